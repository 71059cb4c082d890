## mama — English. Every key here has a twin in ../ko/mama.ftl (the catalogue
## test fails otherwise). Counts come as $name (plural selection) and
## $name_fmt (grouped digits, what people read).

## Navigation and shared words
nav-label = Main
nav-users = Users
nav-services = Services
nav-models = Models
nav-sync = Sync
nav-api-clients = API clients
nav-audit = Audit
nav-admins = Admins
nav-account = Account
nav-password = Password
nav-logout = Log out
nav-language = Language
action-cancel = Cancel
action-back = Back
action-delete = Delete
action-save = Save
action-done = Done
col-created = Created
col-user = User
yes = yes
time-never = never
times-in-zone = Times are shown in { $zone }.
users-count = { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}

## Roles and scopes
role-super-admin = Super admin
role-admin = Admin
role-auditor = Auditor
role-unknown = Unknown role
role-noun-super-admin = super admin
role-noun-admin = admin
role-noun-auditor = auditor
scope-keys-read = Look up users' keys
scope-models-read = List models
scope-audit-read = Read the audit trail
scope-users-write = Create, change and delete users (never their keys)
scope-services-write = Manage the service catalogue

## Field names (also inside error messages)
field-username = Username
field-password = Password
field-current-password = Current password
field-new-password = New password
field-confirm-password = Repeat the new password
field-initial-password = Initial password
field-temporary-password = Temporary password
field-role = Role
field-name = Name
field-description = Description
field-scopes = Scopes
field-token = Token
field-rate-limit-per-minute = Requests per minute
field-language = Language
field-time-zone = Time zone
field-since = From
field-until = Until
field-actor = Actor
field-user = Target user ID
field-user-id = User ID
field-action = Action
field-outcome = Outcome
field-request-id = Request ID

## Validation messages
err-required = { $field } is required.
err-invalid = { $field } is not valid.
err-enter-username = Enter your username.
err-username-long = A username has at most 64 characters.
err-enter-password = Enter your password.
err-password-too-long = That password is too long.
err-enter-current-password = Enter your current password.
err-enter-new-password = Enter a new password.
err-password-min-chars = The new password must be at least 8 characters long.
err-password-long = The new password must be at most 128 characters long.
err-password-admin = The new password must not be "admin".
err-password-username = The new password must not be the same as the username.
err-password-common = The new password is one of the most commonly used passwords; choose another.
err-passwords-differ = The two passwords do not match.
err-password-unchanged = The new password must differ from the current one.
err-current-password-wrong = The current password is not correct.
err-username-length = A username has 1 to 64 characters.
err-username-chars = Use only letters, digits and . _ @ -
err-username-taken = An account with this username already exists.
err-choose-role = Choose a role.
err-enter-name = Enter a name.
err-name-long = A name has at most 64 characters.
err-name-chars = Use letters, digits, spaces, '-', '_' and '.' only.
err-api-client-taken = An API client with this name already exists.
err-scope-unknown = Choose scopes from the list.
err-scope-none = Choose at least one scope.
err-rate-limit = Enter a whole number from 1 to { $max_fmt }, or leave it empty for the default.
err-service-name-long = A service name has at most 128 characters.
err-service-name-chars = Use only letters, digits and . _ - :
err-service-taken = A service with this name already exists.
err-date = { $field }: use a date like 2026-11-22 or 2026-11-22T13:45.
err-end-before-start = The end must be after the start.
err-action-group = No action belongs to this group.
err-action-unknown = Unknown action; pick one from the list.
err-outcome = Pick success, denied, invalid or error.
err-language = Choose Korean or English, or follow the browser.
err-time-zone = Enter a time zone such as Asia/Seoul or UTC.

## Flash messages
flash-session-ended = Your session has ended. Please log in again.
flash-session-expired = Your session expired. Please log in again.
flash-logged-out = You have logged out.
flash-password-changed = Your password has been changed.
flash-account-saved = Your language and time zone have been saved.
flash-admin-created = Created { $role } “{ $username }”. They must choose a new password at first login.
flash-admin-deleted = Deleted “{ $username }”; their sessions have ended.
flash-admin-reset = Reset the password of “{ $username }”. They must choose a new one at their next login.
flash-api-client-revoked = Revoked `{ $name }`. Its token stopped working at once.
flash-api-client-already-revoked = `{ $name }` was already revoked.
flash-service-added = Added service `{ $name }`.
flash-service-saved = Saved service `{ $name }`.
flash-service-saved-synced = Saved service `{ $name }`; { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} queued for LiteLLM sync.
flash-service-deleted = Deleted service `{ $name }`.
flash-sync-retried = { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} queued for another attempt.
flash-reconcile-repaired = { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} queued for repair; { $unknown_fmt } key(s) unknown to mama were left alone.
flash-chain-intact = Audit chain intact: { $count_fmt } events checked (head seq { $seq }), { $sealed_fmt } sealed now.
flash-chain-broken = Audit chain BROKEN at event id { $id }.

## System notices
notice-litellm-unconfigured = LiteLLM is not configured (set LITELLM_BASE_URL and LITELLM_MASTER_KEY). Keys are kept in mama and wait as pending until it is.
notice-litellm-unreachable = LiteLLM is unreachable. Changes are kept and wait as pending; they are sent when it is back.
notice-litellm-unreachable-models = LiteLLM is unreachable. The model list is the last one known; changes wait as pending.

## Login
login-title = Log in
login-heading = Log in to mama
login-submit = Log in
login-wrong = Wrong username or password. After repeated failures an account is locked for a while.
login-busy = The server is busy checking other logins. Try again in a second.
login-expired = Your session expired after a period of inactivity. Please log in again.
login-ip-throttled = Too many failed logins from your address. Try again in { $seconds_fmt } seconds.

## Password and account
password-title = Change password
password-heading = Change your password
password-forced = You must choose a new password before you can use mama.
password-help = At least 8 characters. A long phrase is best. Common passwords are refused.
password-submit = Change password
password-others-logged-out = Changing your password logs out your other sessions.
account-title = Account
account-heading = Language and time zone
account-language-browser = Follow the browser
account-time-zone-help = An IANA name such as Asia/Seoul or UTC. Empty: { $zone }.
account-now = It is now { $time }.
account-save = Save
account-change-password = Change your password

## Admins
admins-title = Admins
admins-heading = Admins and auditors
admins-new = New account
admins-new-heading = New admin or auditor
admins-new-password-help = They must change it at first login. At least 8 characters; common passwords are refused.
admins-create = Create account
admins-col-status = Status
admins-col-last-login = Last login
admins-you = (you)
admins-locked = locked
admins-must-change = must change password
admins-reset-password = Reset password
admins-reset-heading = Reset the password of { $username }
admins-reset-explain = Their sessions end now, the account is unlocked, and they must choose a new password at their next login.
admins-delete-title = Delete { $username }
admins-delete-heading = Delete { $username }?
admins-delete-explain = { $username } will be deleted and logged out at once. This cannot be undone.
admins-delete-confirm = Delete { $username }
admins-refuse-self = You cannot delete your own account.
admins-refuse-last = This is the last super admin; it cannot be deleted.

## API clients
api-clients-new = New API client
api-clients-create = Create API client
api-clients-intro = Internal systems call the REST API with a bearer token. Tokens are shown once, when created; mama keeps only their hash.
api-clients-docs = The REST API
api-clients-col-rate = Rate limit
api-clients-col-last-used = Last used
api-clients-rate = { $count_fmt }/min
api-clients-rate-default = { $count_fmt }/min (default)
api-clients-by = by { $admin }
api-clients-revoked-at = revoked { $time }
api-clients-revoke = Revoke…
api-clients-empty = No API clients yet.
api-clients-name-help = The system that will call the API, for example:
api-clients-created-title = API client created
api-clients-created-heading = API client { $name } created
api-clients-copy-now = Copy this token now.
api-clients-shown-once = It is shown only this once; mama keeps only its hash. Send it as:
api-clients-revoke-heading = Revoke { $name }?
api-clients-already-revoked = { $name } was already revoked.
api-clients-revoke-explain = Its token stops working at once: every system that calls the API with it gets 401 from the next request. This cannot be undone; a new client gets a new token.
api-clients-revoke-confirm = Revoke { $name }

## Services
services-intro = The internal services admins grant to users. A service still granted to users cannot be deleted.
services-add = Add service
services-empty = No services yet.
services-col-name = Name and description
services-name-of = Name of { $name }
services-description-of = Description of { $name }
services-in-use = `{ $name }` is still used by { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}: { $users }{ $more ->
    [0] {""}
   *[other] {" "}and { $more_fmt } more
}. Remove it from them first (select them on /users, “Services: remove”).

## Sync and reconcile
sync-heading = Sync with LiteLLM
sync-compare = Compare with LiteLLM
sync-queued = Queued
sync-due-now = { $count_fmt } due now
sync-in-flight = In flight
sync-failed = Failed
sync-throughput = Throughput
sync-jobs-per-second = jobs/s (last minute) · { $count_fmt } done
sync-last-error = Last error
sync-batches = Bulk changes
sync-col-batch = Batch
sync-col-progress = Progress
sync-col-done = Done
sync-col-total = Total
sync-nothing-failed = Nothing has failed.
sync-retry-all = Retry all failed
sync-retry = Retry
sync-col-operation = Operation
sync-col-attempts = Attempts
sync-col-litellm-said = LiteLLM said
reconcile-title = Reconcile
reconcile-heading = mama and LiteLLM compared
reconcile-back = Back to sync
reconcile-error = LiteLLM could not be read:
reconcile-summary = { $checked_fmt } users checked: { $in_sync_fmt } in step, { $drift_fmt } drifted, { $pending_fmt } with a sync still running; { $unknown_fmt } key(s) in LiteLLM that mama does not know.
reconcile-repair = Repair { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}
reconcile-col-differs = What differs
reconcile-col-detail = Detail
reconcile-col-hash = Hash
reconcile-col-alias = Alias
reconcile-col-by-mama = Made by mama
reconcile-unknown-heading = Keys in LiteLLM unknown to mama
reconcile-never-deleted = mama never deletes these.
reconcile-first-shown = The first { $shown_fmt } of { $count_fmt } are shown.
reconcile-kind-missing = missing in LiteLLM
reconcile-kind-models = models
reconcile-kind-alias = alias
reconcile-kind-metadata = metadata
reconcile-kind-user-id = user ID
reconcile-kind-limits = limits
reconcile-kind-other = other

## Audit
audit-title = Audit trail
audit-export-csv = Export CSV
audit-export-jsonl = Export JSON Lines
audit-export-utc = Exports keep RFC 3339 times in UTC.
audit-chain-intact = chain intact
audit-chain-broken = chain BROKEN
audit-last-verified = last verified { $time }:
audit-checked = { $count_fmt } events checked.
audit-first-bad = first bad event
audit-not-verified = not verified yet
audit-not-verified-long = The hash chain has not been verified.
audit-verify = Verify now
audit-index-lag = Target index lag (events not yet indexed)
audit-index-lag-complete = (searches by user read them directly, so results stay complete).
audit-from = From ({ $zone })
audit-until = Until ({ $zone })
audit-actor-placeholder = username or API client
audit-any-action = any action
audit-all-group = all { $group }.*
audit-any-outcome = any outcome
audit-filter = Filter
audit-reset = Reset
audit-col-time = Time ({ $zone })
audit-col-status = Status
audit-col-targets = Targets
audit-col-request = Request
audit-empty = No event matches this filter.
audit-newest = Newest events
audit-older = Older events
audit-event-title = Audit event #{ $id }
audit-back = Back to the trail
audit-all-such = all such events
audit-none = none
audit-duration = Duration
audit-client = Client
audit-chain = Chain
audit-not-sealed = not sealed yet
audit-changes = Changes
audit-col-field = Field
audit-col-before = Before
audit-col-after = After
audit-details = Details
outcome-success = success
outcome-denied = denied
outcome-invalid = invalid
outcome-error = error
outcome-unknown = unknown
actor-admin = admin
actor-api-client = API client
actor-system = system
actor-anonymous = anonymous

## Error pages
error-title-400 = That did not work
error-title-403 = Not allowed
error-title-404 = Page not found
error-title-429 = Too many requests
error-title-500 = Something went wrong
error-title-503 = Temporarily unavailable
error-forbidden = You do not have permission to do this.
error-csrf = Your form has expired or did not come from this site; reload the page and try again.
error-not-found = There is no page at this address.
error-conflict = This conflicts with the current state; reload the page and try again.
error-too-large = That request is too large.
error-validation = Some input is not valid.
error-rate-limited = Too many requests; wait a moment and try again.
error-unavailable = The service is temporarily unavailable. Nothing was changed.
error-internal = An unexpected error occurred. It has been logged; quote the request ID when you report it.
error-bad-request = The request could not be understood.
error-status = Status { $status }
error-request-id = request ID
error-back = Back to mama

## Users
text = { $text }
field-organisation = Organisation
field-extra = Other information
field-models = Models
field-services = Services
field-key-alias = Key alias
field-lines = Lines
field-ids = User IDs
field-op = Change
field-confirm-count = Confirmation count
field-version = Version
users-col-id = ID
users-col-key = Key
users-col-alias = Alias
users-col-updated = Updated
users-create = Create users
users-search = Search ID or organisation
users-search-submit = Search
users-search-clear = Clear
users-matching = matching “{ $q }”
users-see-retired = see retired models
users-with-selected = With the selected users
users-new-organisation = New organisation
users-preview = Preview
users-empty = No users yet.
users-no-match = No user matches “{ $q }”.
users-select-page = Select all on this page
users-select-one = Select { $user }
users-select-all = Select all { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}
users-select-all-matching = Select all { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} matching this search
users-red-grants = { $count ->
    [one] { $count_fmt } model grant on this page is
   *[other] { $count_fmt } model grants on this page are
} no longer offered by LiteLLM
users-pages = Pages
users-page-of = Page { $page_fmt } of { $pages_fmt }
users-prev = Previous
users-next = Next
users-per-page = Per page
users-lines-help = One user per line (a header line is optional). IDs: 1–128 letters, digits and
users-csv-file = …or load a CSV file into the box above (then preview it)
users-models-for-new = Models for every new user
users-services-for-new = Services for every new user
users-if-bad = If some lines are bad
users-mode-all = create nothing until every line is valid
users-mode-valid = create the valid lines only
users-preview-heading = Preview: { $valid_fmt } valid, { $invalid_fmt } with errors
users-col-line = Line
users-col-result = Result
users-line-ok = ok
users-line-n = Line { $n }
users-edit = Edit { $user }
users-close = Close
users-audit-history = audit history
users-reveal = Reveal key
users-reveal-audited = Revealing is recorded in the audit trail.
users-key-alias-label = Key alias (unique in LiteLLM; empty for none)
users-key-of = Key of { $user } (shown once, copy it now):
users-key-title = Key of { $user }
users-back-to = Back to { $user }
users-confirm-delete = Type { $count_fmt } to confirm deleting { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
users-lines-have-errors = { $count ->
    [one] { $count_fmt } line has errors, so nothing was created. Fix it
   *[other] { $count_fmt } lines have errors, so nothing was created. Fix them
}, or choose “create the valid lines only”.
users-no-line = No line can be created.
users-no-version = The form is missing its version; reload the page.
users-conflict = Someone else saved { $user } while you were editing (version { $from } → { $to }). Your changes were NOT saved; below are the current values — redo your change on them.
users-alias-taken = Another user's key already has this alias.
users-saved = Saved { $user }. LiteLLM is being updated.
users-follow-sync = Follow the sync
users-created = Created { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
users-skipped-lines = Skipped { $count ->
    [one] { $count_fmt } line
   *[other] { $count_fmt } lines
} with errors.
users-litellm-updating = LiteLLM is being updated.
sync-state-synced = synced
sync-state-pending = pending
sync-state-failed = failed
sync-state-unknown = unknown
err-choose-model = Choose at least one model.
err-choose-service = Choose at least one service.
err-choose-action = Choose an action.

## Bulk actions
bulk-op-models-add = Models: add
bulk-op-models-remove = Models: remove
bulk-op-models-replace = Models: replace with
bulk-op-services-add = Services: add
bulk-op-services-remove = Services: remove
bulk-op-services-replace = Services: replace with
bulk-op-organisation = Set organisation
bulk-op-alias = Give a key alias (to users without one)
bulk-op-rotate = Rotate keys
bulk-preview-title = Preview: { $op }
bulk-selected = {" "}{ $count ->
    [one] user selected.
   *[other] users selected.
}
bulk-nothing-will-change = Nothing will change.
bulk-all-will-change = All of them will change.
bulk-some-will-change = { $changed_fmt } will change, { $unchanged_fmt } will stay as they are.
bulk-will-change = Will change
bulk-and-more = and { $count_fmt } more
bulk-delete-confirm = This deletes { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} and their keys. Type
bulk-delete-confirm-end = {" "}to confirm.
bulk-apply = Apply to { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}
bulk-apply-delete = Delete { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}
bulk-error-title = Bulk action
bulk-error-heading = That cannot be done yet
bulk-nothing-changed-yet = Nothing was changed.
bulk-back = Back to the users
bulk-nothing-changed = Nothing changed.
bulk-p-already-have = { $count ->
    [one] { $count_fmt } user already has { $value }.
   *[other] { $count_fmt } users already have { $value }.
}
bulk-d-already-had = { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} already had { $value }.
bulk-p-not-have = { $count ->
    [one] { $count_fmt } user does not have { $value }.
   *[other] { $count_fmt } users do not have { $value }.
}
bulk-d-did-not-have = { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} did not have { $value }.
bulk-p-add = Add { $value } to { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
bulk-d-added = Added { $value } to { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
bulk-p-had-it = { $count ->
    [one] { $count_fmt } user already has it.
   *[other] { $count_fmt } users already have it.
}
bulk-d-had-it = { $count_fmt } already had it.
bulk-p-remove = Remove { $value } from { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
bulk-d-removed = Removed { $value } from { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
bulk-p-lacked-it = { $count ->
    [one] { $count_fmt } user does not have it.
   *[other] { $count_fmt } users do not have it.
}
bulk-d-lacked-it = { $count_fmt } did not have it.
bulk-p-nothing-to-remove = No { $what } to remove: the selected users have none.
bulk-d-nothing-to-remove = Nothing changed: the selected users had no { $what }.
bulk-p-org = Set the organisation of { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} to “{ $org }”.
bulk-d-org = Set the organisation of { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} to “{ $org }”.
bulk-p-alias = Give { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} a key alias.
bulk-d-alias = Gave { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} a key alias.
bulk-p-had-one = { $count ->
    [one] { $count_fmt } user already has one.
   *[other] { $count_fmt } users already have one.
}
bulk-d-had-one = { $count_fmt } already had one.
bulk-p-alias-taken = { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} cannot get one: the alias is taken.
bulk-d-alias-taken = { $count_fmt } got none: the alias was taken.
bulk-p-rotate = Give { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} a new key. The old keys stop working once LiteLLM is updated.
bulk-d-rotated = Gave { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} a new key.
bulk-p-delete = Delete { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} and their keys.
bulk-d-deleted = Deleted { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
} and their keys.
bulk-p-not-found = { $count ->
    [one] { $count_fmt } user selected no longer exists; skipped.
   *[other] { $count_fmt } users selected no longer exist; skipped.
}
bulk-d-not-found = { $count ->
    [one] { $count_fmt } user no longer exists and was skipped.
   *[other] { $count_fmt } users no longer exist and were skipped.
}

## Models and pickers
models-refresh = Refresh from LiteLLM
models-last-fetched = Last fetched from LiteLLM: { $time }.
models-not-configured = LiteLLM is not configured, so mama cannot tell which models it offers: none is marked as retired.
models-retired-help = A model LiteLLM no longer offers is marked “no longer offered”, with how many users still hold it; “Remove from all” previews the change first.
models-col-model = Model
models-col-last-seen = Last seen
models-col-held-by = Held by
models-always = always offered
models-available = available
models-no-longer-offered = no longer offered
models-no-longer-offered-title = LiteLLM no longer offers { $model }
models-special = special
models-special-title = Special value: every model of the team or proxy
models-holders = { $count ->
    [0] nobody holds it
    [one] { $count_fmt } user holds it
   *[other] { $count_fmt } users hold it
}
models-remove-from = { $count ->
    [one] Remove from the 1 user who holds it
   *[other] Remove from all { $count_fmt } users
}
picker-empty = Nothing to choose from yet.
picker-filter = Type to filter, Enter to choose
picker-none = none chosen
picker-remove = Remove
flash-models-fetched = { $count_fmt } model(s) fetched from LiteLLM.
flash-models-failed = LiteLLM did not answer; the last known list is kept.
users-bulk-done-title = Bulk change done
users-bulk-done-back = Back to the users

## Budgets, limits and key lifecycle
limits-legend = Limits (sent to LiteLLM with the key)
field-max-budget = Budget (USD)
field-budget-duration = Budget resets
field-rpm-limit = Requests per minute
field-tpm-limit = Tokens per minute
field-expires-at = Key expires on
field-blocked = Key blocked
limits-none = no limit
budget-never-resets = never
budget-daily = daily
budget-weekly = weekly
budget-monthly = monthly
err-number = { $field } must be a number.
err-not-negative = { $field } cannot be negative.
err-too-large = { $field } is at most { $max_fmt }.
err-at-least-one = { $field } must be at least 1.
err-whole-number = { $field } must be a whole number.
err-budget-duration = { $field }: choose daily, weekly or monthly.
err-true-false = { $field } must be true or false.
users-col-spend = Spend
users-col-budget = Budget
users-col-share = Used
users-blocked = blocked
users-expired = expired
users-expires-on = until { $date }
users-budget-warn-title = At or over 80% of the budget
users-unused-for = Unused for
users-days = days
users-limit-value = Value
users-limit-value-hint = 50 · 30d · 60 · 2027-12-31
err-limit-value = Enter a value for { $field }.
bulk-op-max-budget-set = Set budget
bulk-op-max-budget-clear = Remove budget
bulk-op-budget-duration-set = Set budget period (1d, 7d, 30d)
bulk-op-budget-duration-clear = Remove budget period
bulk-op-rpm-limit-set = Set requests per minute
bulk-op-rpm-limit-clear = Remove requests-per-minute limit
bulk-op-tpm-limit-set = Set tokens per minute
bulk-op-tpm-limit-clear = Remove tokens-per-minute limit
bulk-op-expires-at-set = Renew: set expiry date
bulk-op-expires-at-clear = Remove expiry
bulk-op-block = Block keys
bulk-op-unblock = Unblock keys
bulk-p-limit-set = Set { $field } to { $value } for { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
bulk-d-limit-set = Set { $field } to { $value } for { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
bulk-p-limit-clear = Remove { $field } from { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
bulk-d-limit-clear = Removed { $field } from { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
bulk-p-block = Block the keys of { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}: LiteLLM refuses them until they are unblocked.
bulk-d-blocked = Blocked the keys of { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
bulk-p-unblock = Unblock the keys of { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
bulk-d-unblocked = Unblocked the keys of { $count ->
    [one] { $count_fmt } user
   *[other] { $count_fmt } users
}.
# Input rules shared by the pages, the REST API, `mama apply` and the CLI
# (the API and the CLI print the English text).
err-user-id-empty = The user ID is empty.
err-user-id-long = The user ID is longer than { $max_fmt } characters.
err-user-id-chars = The user ID has characters other than letters, digits and . _ @ - +
err-user-id-reserved = The user ID must not be "." or "..".
err-organisation-long = The organisation is longer than { $max_fmt } characters.
err-organisation-control = The organisation has control characters.
err-model-empty = A model name is empty.
err-model-long = A model name is longer than { $max_fmt } characters.
err-model-chars = A model name has characters other than letters, digits and . _ - : / @ +
err-text-long = The text has more than { $max_fmt } characters.
err-text-control = The text has control characters.
err-alias-long = The key alias is longer than { $max_fmt } characters.
err-alias-control = The key alias has control characters.
err-alias-taken = The key alias “{ $alias }” is already another user's.
err-alias-line = The key alias “{ $alias }” is also line { $first_fmt }'s.
err-lines-max = At most { $max_fmt } lines at once.
err-lines-none = Paste at least one line `user_id,organisation`.
err-line-duplicate = Duplicate of line { $first_fmt }.
err-user-exists = A user with this ID already exists.
err-services-unreadable = The services could not be read; try again.
err-service-unknown = Unknown service “{ $name }”: add it under Services first.
err-service-in-use = `{ $name }` is still used by { $n ->
    [one] { $n_fmt } user
   *[other] { $n_fmt } users
}.
err-description-long = A description has at most { $max_fmt } characters.
err-description-control = The description has control characters.
err-select-user = Select at least one user.
err-select-max = Select at most { $max_fmt } users by ID, or select all matching a search.
err-select-gone = None of the selected users exist (any more).
reconcile-held-heading = Changed in LiteLLM behind mama's back
reconcile-held-help = mama found these keys changed outside mama and did not overwrite them. Keep LiteLLM's change by making the same edit in mama, or send mama's state again.
reconcile-col-mama-sent = mama had sent
reconcile-col-litellm-has = LiteLLM has
reconcile-overwrite = Send mama's state
reconcile-rename-offer = LiteLLM no longer offers { $from } and offers { $to } instead; on { $count_fmt } { $count ->
    [one] key
   *[other] keys
} { $from } was replaced by { $to }. Adopt the rename in mama:
reconcile-rename-add = 1. Preview: add { $to } to every user holding { $from }
reconcile-rename-remove = 2. Preview: remove { $from } from them
flash-drift-overwritten = mama's state will be sent again to the key of { $user }.
