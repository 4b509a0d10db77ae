-- Argo CD health check for sendblue.webhooks.dev/SendblueWebhookSet.
-- Install under resource.customizations.health.sendblue.webhooks.dev_SendblueWebhookSet
-- in the argocd-cm ConfigMap (see config/argocd/README.md).
local hs = {}

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true: no Sendblue API calls are made"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the sendblue-operator to report status"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the sendblue-operator to observe generation " .. tostring(generation)
  return hs
end

local ready = nil
local stalled = nil
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Stalled" then
    stalled = c
  end
end

local function describe(c)
  local msg = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    msg = msg .. ": " .. c.message
  end
  return msg
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end

if ready == nil or (generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition of generation " .. tostring(generation)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

local failures = {
  CredentialsNotFound = true, SecretNotFound = true, Unauthorized = true, InvalidSpec = true,
  Conflict = true, RateLimited = true, APIError = true, DriftDetected = true,
  IncompleteRead = true, WriteMismatch = true, AccountTooLarge = true, AccountChanged = true,
  SecretNotAllowed = true,
}
if ready.reason == "Suspended" then
  hs.status = "Suspended"
elseif failures[ready.reason] then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = describe(ready)
return hs
