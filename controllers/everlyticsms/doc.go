// Package everlyticsms reconciles EverlyticSMSWebhooks: one object, one
// webhook on an Everlytic install. Each sync reads the object's Secrets,
// reads the webhook by id (or creates it, or adopts spec.webhookID), writes
// the whole webhook only when it differs, and reports Ready, Reconciling and
// Stalled as every resource of the operator does (controllers/status).
//
// Creating is not idempotent on Everlytic's side, so a create is marked in
// status (createPending: when, and what it sends) before it is sent, with an optimistic lock; a
// mark found after a restart is resolved by listing the webhooks and
// matching the url, verb and event types the create sent, never by creating
// blindly: the create is sent again only after two lists, some seconds
// apart, both show nothing it made.
//
// Status is not a backup: what identifies the webhook (its id, its account,
// a pending create) is mirrored in the object's annotations
// (everlytic.webhooks.dev/webhook-id, account-id, create-pending), and an
// object restored without its status takes it back from them before
// anything else is decided.
package everlyticsms
