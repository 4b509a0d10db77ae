-- Argo CD health check for every kind of the operator:
-- sendblue.webhooks.dev/SendblueWebhookSet and
-- everlytic.webhooks.dev/EverlyticSMSWebhook report Ready, Reconciling and
-- Stalled the same way (controllers/status). Install it under
-- resource.customizations.health.sendblue.webhooks.dev_SendblueWebhookSet and
-- resource.customizations.health.everlytic.webhooks.dev_EverlyticSMSWebhook
-- in the argocd-cm ConfigMap (see config/argocd/README.md).
local hs = {}

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true: no provider API calls are made"
  return hs
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the sendblue-operator to report status"
  return hs
end

local generation = obj.metadata.generation
local ready = nil
local reconciling = nil
local stalled = nil
for _, c in ipairs(obj.status.conditions) do
  if c.type == "Ready" then
    ready = c
  elseif c.type == "Reconciling" then
    reconciling = c
  elseif c.type == "Stalled" then
    stalled = c
  end
end

-- A condition speaks for the current generation only.
local function current(c)
  return c ~= nil and (generation == nil or c.observedGeneration == nil or c.observedGeneration >= generation)
end

local function describe(c)
  local msg = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    msg = msg .. ": " .. c.message
  end
  return msg
end

-- Stalled=True: nothing progresses without a change from the user.
if current(stalled) and stalled.status == "True" then
  if stalled.reason == "Suspended" then
    hs.status = "Suspended"
  else
    hs.status = "Degraded"
  end
  hs.message = describe(stalled)
  return hs
end

-- Ready=True: the account held this generation at the last sync; a retry
-- under way (a failed drift read) does not make it unhealthy.
if current(ready) and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  if current(reconciling) and reconciling.status == "True" then
    hs.message = hs.message .. "; retrying: " .. describe(reconciling)
  end
  return hs
end

-- Reconciling=True: waiting for the first sync of this generation
-- (Progressing), or a failure that is retried (Degraded until it heals).
if current(reconciling) and reconciling.status == "True" then
  if reconciling.reason == "Progressing" then
    hs.status = "Progressing"
  else
    hs.status = "Degraded"
  end
  hs.message = describe(reconciling)
  return hs
end

-- Ready=False alone: a status written before Reconciling existed. Every
-- reason but Progressing (waiting for a first sync) and Suspended is a
-- failure.
if current(ready) and ready.status == "False" then
  if ready.reason == "Suspended" then
    hs.status = "Suspended"
  elseif ready.reason == "Progressing" then
    hs.status = "Progressing"
  else
    hs.status = "Degraded"
  end
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for the Ready condition of generation " .. tostring(generation)
return hs
