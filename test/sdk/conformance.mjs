// Drives the Sendblue emulator with the official TypeScript SDK (npm
// `sendblue`, pinned in package.json) through list, create, update and
// delete. After each step it records what the SDK parsed and what the
// emulator stored (read through its control surface), and prints one JSON
// document on stdout for sdk_test.go to check. Run by `make test`.
import SendblueAPI from 'sendblue';

const baseURL = process.env.SENDBLUE_API_BASE_URL;
const keyId = process.env.SENDBLUE_API_API_KEY;
const client = new SendblueAPI({ baseURL, maxRetries: 0, timeout: 10_000, logLevel: 'off' });

async function stored() {
  const r = await fetch(`${baseURL}/_emulator/accounts/${encodeURIComponent(keyId)}/webhooks`);
  if (!r.ok) throw new Error(`control surface: ${r.status}`);
  return r.json();
}

const steps = [];
async function step(name, fn) {
  try {
    steps.push({ name, result: await fn(), stored: await stored() });
  } catch (e) {
    steps.push({ name, error: { status: e.status ?? null, name: e.constructor.name, message: String(e.message) }, stored: await stored() });
  }
}

await step('list-new-account', () => client.webhooks.list());
await step('create-receive', () => client.webhooks.create({
  webhooks: ['https://app.example.com/receive', { url: 'https://app.example.com/receive-signed', secret: 'receive-secret' }],
}));
await step('create-call-log-with-global-secret', () => client.webhooks.create({
  type: 'call_log', webhooks: ['https://app.example.com/calls'], globalSecret: 'global-secret',
}));
await step('update-all', () => client.webhooks.update({
  webhooks: {
    receive: [{ url: 'https://app.example.com/receive', sendblue_numbers: ['+15122164639'] }],
    outbound: ['https://app.example.com/outbound'],
    line_blocked: [{ url: 'https://app.example.com/blocked', secret: 'blocked-secret' }],
    line_assigned: ['https://app.example.com/assigned'],
    contact_created: ['https://app.example.com/contacts'],
    typing_indicator: ['https://app.example.com/typing'],
    inbound_call: [{ url: 'https://app.example.com/inbound-call', secret: 'call-secret' }],
    contact_profile: ['https://app.example.com/profile'],
    call_log: [],
    globalSecret: 'global-secret-2',
  },
}));
await step('list-after-update', () => client.webhooks.list());
await step('delete-outbound', () => client.webhooks.delete({ type: 'outbound', webhooks: ['https://app.example.com/outbound'] }));
await step('delete-default-type', () => client.webhooks.delete({ webhooks: ['https://app.example.com/receive'] }));
await step('create-http-url-is-refused', () => client.webhooks.create({ type: 'outbound', webhooks: ['http://app.example.com/insecure'] }));
await step('list-with-wrong-secret', () =>
  new SendblueAPI({ baseURL, apiKey: keyId, apiSecret: 'wrong', maxRetries: 0, logLevel: 'off' }).webhooks.list());
await step('list-final', () => client.webhooks.list());

process.stdout.write(JSON.stringify(steps));
