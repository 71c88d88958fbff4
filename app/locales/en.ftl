# Outpost, English. Fluent syntax (https://projectfluent.org): `key = text`, `{ $name }` for
# a value the app fills in. app/build.rs compiles this file and fr.ftl into the app (no parser
# ships to the browser) and stops the build when a key is missing from either language.
#
# Codes the server sends are keys here: `step-<StepKey>`, `error-<VARIANT>` and
# `hint-<VARIANT>` (sync error variants), `api-<VARIANT>` (API error variants). Adding a code
# to the server means adding its lines here and in fr.ftl, nothing else.

## The shell: navigation, header, language
brand = Outpost
nav-label = Main
nav-store-data = Store data
nav-admin = Admin
nav-admin-sync = Synchronisation
nav-sync = Sync
nav-badge-one = { $count } record waiting to be sent
nav-badge-other = { $count } records waiting to be sent
nav-stale-warning = No successful sync for over a day
nav-stale-error = No successful sync for over 3 days
header-synced = Synced { $ago }
header-syncing = Syncing…
header-failed = Sync failed
header-never = Never synced
header-not-configured = Sync not configured
language = Language
lang-en = English
lang-fr = Français
not-found-title = Page not found
not-found-text = There is no page at this address. Use the navigation to go to Sync, Store data or Admin › Synchronisation.

## Times and numbers (the numbers and relative times come from the browser's Intl)
just-now = just now
duration-seconds = { $n } s
duration-minutes = { $m } min { $s } s
duration-hours = { $h } h { $m } min

## Failures of a request
failure-network = Cannot reach the Outpost server ({ $detail }). Check that it is running and that this device is on its network.
failure-request = This page could not write its request ({ $detail }). Reload the page and try again.
failure-response = The server sent an answer this page does not understand ({ $detail }). Reload the page; if it persists, the app and server versions differ.
failure-http = The server answered { $status } { $text }.
api-NOT_CONFIGURED = Sync is not configured yet: save the central server URL, site name and password in the sync settings first.
sync-disabled = Sync is disabled in the sync settings; enable it to sync.
wrong-password = Wrong admin password.
api-TOO_MANY_REQUESTS = Too many failed sign-in attempts; wait a minute and try again.
api-INTERNAL = Something went wrong on the server. Try again; if it keeps failing, contact support.

## The Sync page
sync-title = Synchronisation status
sync-now = Sync now!
syncing = Syncing
sync-explain = Records to push are changes made here that the central servers have not received yet. This server syncs on its own every few minutes; Sync now! starts a run at once.
retrying = Retrying automatically.
not-configured = Sync is not configured yet. Enter the central server URL, site name and password in
admin-sync-link = Admin › Synchronisation
records-to-push = Records to push
last-sync = Last sync
last-successful-sync = Last successful sync
never = Never
run-took = { $when }, took { $duration }
run-running = { $when }, running for { $duration }
run-completed = { $when }, completed in { $duration }
age-over-3-days = — over 3 days ago: check the connection and press Sync now!
age-over-1-day = — over a day ago
stepper-label = Sync steps
step-state-pending = pending
step-state-active = active
step-state-done = done
step-state-error = error
step-state-skipped = skipped
speed = { $speed }/s
speed-left = { $speed }/s · { $left } left
error-details = Error details
error-default-hint = Try again; if it keeps failing, send the details below to your support contact.
quarantine-one = { $count } record set aside
quarantine-other = { $count } records set aside
quarantine-explain = Received: arrived from a central server but could not be saved here; fix them at the central server, then retry. Sent: a central server refused them (see the reason) and took the rest; ask its administrator. The others synced.
col-direction = Way
col-when = When
direction-incoming = Received
direction-outgoing = Sent
col-table = Table
col-record = Record
col-reason = Reason
retry = Retry
retrying-now = Retrying

## Run history
history-title = Last runs
history-empty = No runs yet.
col-started = Started
col-duration = Duration
col-outcome = Outcome
col-failed-step = Failed step
col-error = Error
col-pushed = Pushed
col-pulled = Pulled
col-kind = Kind
outcome-success = Succeeded
outcome-failed = Failed
outcome-running = Running
kind-scheduled = Scheduled
kind-manual = Manual
kind-atStart = At start

## Sync steps (keys are the API's step keys)
step-prepareInitial = Prepare
step-pushV6 = Push V6
step-push = Push
step-pullCentral = Pull Central
step-pullRemote = Pull Remote
step-pullV6 = Pull V6
step-integration = Integrate

## Sync errors (keys are the API's error variants): what went wrong, and what to do
error-CONNECTION_ERROR = Unable to connect to server
hint-CONNECTION_ERROR = Check the central server URL and this device's network connection.
error-CERTIFICATE_ERROR = The central server's TLS certificate is not trusted
hint-CERTIFICATE_ERROR = If the central uses a private certificate authority, start this server with --ca-cert FILE (that authority's PEM file). Check that the URL's host name is the certificate's and that this device's clock is right.
error-SITE_NAME_NOT_FOUND = Site name not found
hint-SITE_NAME_NOT_FOUND = Check the site name in the sync settings; it must match a site on the central server.
error-INCORRECT_PASSWORD = Incorrect password
hint-INCORRECT_PASSWORD = Check the site password in the sync settings.
error-HARDWARE_ID_MISMATCH = Incorrect hardware ID
hint-HARDWARE_ID_MISMATCH = This site is bound to another device. Ask the central server's administrator to unlock the site.
error-SITE_HAS_NO_STORE = Site has no store
hint-SITE_HAS_NO_STORE = Ask the central server's administrator to give this site a store.
error-SITE_AUTH_TIMEOUT = Site authentication timed out, please try again later
hint-SITE_AUTH_TIMEOUT = The central server is busy; sync will try again at the next interval.
error-API_VERSION_INCOMPATIBLE = Sync API version is not compatible
hint-API_VERSION_INCOMPATIBLE = The mSupply Central Server must be upgraded; contact support.
error-V6_API_VERSION_INCOMPATIBLE = Sync V6 API version is not compatible
hint-V6_API_VERSION_INCOMPATIBLE = The Open mSupply Central Server must be upgraded; contact support.
error-CENTRAL_V6_NOT_CONFIGURED = V6 central server not configured
hint-CENTRAL_V6_NOT_CONFIGURED = Check the central server URL; the V5 central must name a reachable Open mSupply central server.
error-INTEGRATION_TIMEOUT_REACHED = The central server took too long integrating pushed records. Please retry later.
hint-INTEGRATION_TIMEOUT_REACHED = Your records were sent; nothing is lost. The next sync continues.
error-INTEGRATION_ERROR = The server experienced a problem.
hint-INTEGRATION_ERROR = Records could not be integrated (the full error says whether here or at the central server). Nothing is lost: they stay buffered and the next sync integrates them again; contact support if it persists.
error-SYNC_RECORD_REJECTED = The central server refused records this site sent
hint-SYNC_RECORD_REJECTED = Refused records are listed under the Sync page's quarantine with the central's reason; see the full error and contact support if this persists.
error-RECORD_TOO_LARGE = A record from the central server is larger than this site accepts
hint-RECORD_TOO_LARGE = Sync cannot go past this record until it is smaller. Tell the central server's administrator: the full error says where the record is and the size this site accepts.
error-PREPARATION_INCOMPLETE = The central server did not finish preparing this site's data
hint-PREPARATION_INCOMPLETE = Nothing is lost: the next sync asks the central server to prepare this site again. If this keeps happening, ask the central server's administrator to check its log for this site's preparation.
error-DATABASE_ERROR = This server's database could not be read or written
hint-DATABASE_ERROR = Nothing is lost; the next sync resumes. Check that the data folder's disk is not full and is writable, and contact support if it persists.
error-SITE_UUID_IS_BEING_CHANGED = Site mismatch
hint-SITE_UUID_IS_BEING_CHANGED = These settings belong to a different site than the one this server was initialised with.
error-INVALID_URL = Invalid url
hint-INVALID_URL = Enter a full URL such as http://central.example.org:8001.
error-TIMEOUT = The server took too long to answer
hint-TIMEOUT = The connection stalled. Nothing is lost; the next sync resumes where this one stopped.
error-INTERRUPTED = Sync was interrupted: this server stopped during the run
hint-INTERRUPTED = Nothing is lost; the next sync resumes where this one stopped.
error-UNKNOWN = Unknown sync error
hint-UNKNOWN = See the full error for details, and contact support if it persists.

## The server's address and QR code
qr-loading = Loading server address…
qr-server = Server:
qr-expand-title = Click to expand
qr-expand-label = Show a larger QR code of the server address
qr-dialog-label = QR code of the server address
close = Close

## Admin sign-in
checking-sign-in = Checking sign-in…
signed-in = Signed in as the site's admin
sign-out = Sign out
signing-out = Signing out
sign-in-title = Sign in as the site's admin
sign-in-explain = Changing sync settings and store data needs the admin password of this server.
admin-password = Admin password
sign-in = Sign in
signing-in = Signing in

## Admin › Synchronisation
settings-title = Admin › Synchronisation
settings-explain = How this server reaches the central servers. Saving checks the details with the central server first.
field-url = Central server URL
help-url = The mSupply central server, for example http://central.example.org:8001
field-site-name = Site name
help-site-name = This site's name as registered on the central server
field-password = Site password
help-password = Re-enter it each time you save; it is never shown
field-interval = Interval (seconds)
help-interval = How often this server syncs on its own
check-url-empty = Enter the central server's URL, e.g. http://central.example.org:8001
check-url-scheme = The URL must start with http:// or https://
check-site-name = Enter this site's name as registered on the central server
check-password = Enter the site password (it is not shown again after saving)
check-interval = Enter a whole number of seconds, 1 or more
save = Save
saving = Saving
settings-saved = Sync settings saved. A sync has started.

## Store data
store-title = Store data
loading = Loading…
no-stores = This site has no stores yet. They arrive with the first sync: configure it in
no-stores-end = and press Sync now! on the Sync page.
locations = Locations
assets = Assets
col-code = Code
col-name = Name
col-store = Store
col-on-hold = On hold
col-actions = Actions
col-serial = Serial number
col-notes = Notes
yes = Yes
no = No
add-location = Add location
save-location = Save location
add-asset = Add asset
save-asset = Save asset
cancel = Cancel
edit = Edit
delete = Delete
edit-location = Edit location { $code }
delete-location = Delete location { $code }
edit-asset = Edit asset { $code }
delete-asset = Delete asset { $code }
stock-lines = Stock lines
col-item = Item
col-batch = Batch
col-expiry = Expiry
col-packs = Packs
col-location = Location
invoices = Invoices
col-number = Number
col-type = Type
col-status = Status
col-other-party = Other party
col-lines = Lines

## Form errors (keys are the codes of the API's VALIDATION errors)
invalid-url = Invalid URL: use http://host:port or https://host
invalid-site-name = Enter the site name
invalid-interval = The interval must be between 1 and { $max } seconds
invalid-batch-size = The batch size must be between 1 and { $max }
invalid-password = Enter the site password
invalid-password-again = Enter the site password again: the URL or site name changed
invalid-other-site = Site mismatch: this server holds the data of another site; these settings belong to site { $name }
invalid-id-taken = There is already a record with id { $id }.
invalid-location-code-taken = Another location of this store already has the code { $code }.
invalid-location-code = A location needs a code.
invalid-location-name = A location needs a name.
invalid-asset-number = An asset needs an asset number.
invalid-store = Choose a store.
invalid-store-not-here = Store { $store } is not one of this site's stores.
