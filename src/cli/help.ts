export const GLOBAL_HELP = `Usage: roster <command> [options]

Commands:
  serve                     run the Roster server (configured by config files and environment)
  import FILE [--dry-run]   import users from a CSV file
  export [--format csv|json] [--out FILE]
                            export every user
  users <action> ID...      activate, suspend, send-activation, send-reset, schedule
  events [filters]          show the event log, newest first
  oauth-clients <action>    create, list, show, rotate, revoke OAuth clients
  receivers <action>        security event receivers: list, add, show, enable, disable, remove
  directories <action>      directories (organizations): list, create, suspend, resume, delete, token
  help [command]            show help for a command

Options:
  --directory ID|SLUG       act in this directory: every admin API call goes to
                            /admin/v1/directories/{id}/... (default: the default directory);
                            before or after the command, for every command but serve and directories
  -h, --help                show help (also after a command: roster users --help)
  -v, --version             show the version

Environment:
  ROSTER_URL                the server (default http://127.0.0.1:8080)
  ROSTER_ADMIN_TOKEN        an admin API token (needed by every command but serve)
  ROSTER_DIRECTORY          the directory when --directory is not given

Exit codes: 0 done, 1 failed (or some items failed), 2 wrong usage or configuration.
`;

export const COMMAND_HELP: Record<string, string> = {
  receivers: `Usage: roster receivers <action> [ID] [options]

Receivers get Roster's security event tokens (RFC 9967 SETs, signed, keys at
/.well-known/jwks.json): pushed to their endpoint, or polled by them.

Actions:
  list                    every receiver
  add --name NAME --audience AUD (--push URL | --poll) [options]
                          register a receiver; a poll receiver's token is printed once
  show ID                 one receiver with its delivery counts
  enable ID, disable ID   start or stop producing SETs for it
  remove ID               delete it and its undelivered SETs

Options (add):
  --push URL              POST SETs to URL (RFC 8935)
  --poll                  the receiver polls POST /security-events/poll (RFC 8936)
  --audience AUD          the "aud" of its SETs
  --event URI             an event URI it wants (repeat; none: every event)
  --level notice|full     provisioning events with attribute names only, or the resource
  --attribute NAME        full events carry only these attributes (repeat)
  --client ID             the SCIM client (token:NAME, oauth:CLIENT_ID, issuer:ISS#SUB) whose
                          asynchronous /Bulk requests (Prefer: respond-async)
                          this receiver gets the RFC 9967 asyncresp events of
  --authorization-env VAR send the value of environment variable VAR as the
                          Authorization header of each push (e.g. "Bearer abc")
  --json                  print JSON
  -h, --help              show this help
`,
  directories: `Usage: roster directories <action> [ID|SLUG] [options]

Directories are the organizations one Roster serves, each with its own users, groups,
tokens, settings and SCIM base URL. Managing them needs an operator's token (one of the
configuration's admin tokens). A directory is named by its id or its slug.

Actions:
  list                    every directory: slug, name, status, users, groups, SCIM base URL
  create SLUG --name NAME make a directory; prints it as JSON (its id, SCIM base URL, ...)
  suspend ID|SLUG         refuse its SCIM API and send no emails (its admin API still works)
  resume ID|SLUG          active again (also restores a deleted one within its retention)
  delete ID|SLUG          refused everywhere at once; its data is purged after the retention
  token ID|SLUG --name NAME [--kind scim|admin] [--source manual|bulk|integration]
                          mint a token of the directory; the token is printed once

To act inside a directory with the other commands, give the global option
--directory ID|SLUG (or set ROSTER_DIRECTORY), e.g. roster --directory acme events.

Options:
  --name NAME             create: the directory's name; token: the token's name
  --kind scim|admin       token: a SCIM token (default) or an admin token of the directory
  --source SOURCE         token: the source of the users a SCIM token creates
                          (manual, bulk or integration; default manual)
  --json                  print JSON (list, suspend, resume, delete, token)
  -h, --help              show this help
`,
  serve: `Usage: roster serve

Runs the Roster server in the foreground, like \`npm start\`. It is configured by
config/default.json, the JSON file named in ROSTER_CONFIG and environment variables
(PORT, HOST, MONGODB_URI, ROSTER_SCIM_TOKEN, ROSTER_ADMIN_TOKEN, ...).
Stop it with Ctrl-C or SIGTERM; it finishes in-flight requests first.
`,
  import: `Usage: roster import FILE [--dry-run]

Uploads a CSV file to POST /admin/v1/imports and prints the result: counts of
created, updated and failed users and each failed line with its reason.
Users created by an import get the "bulk" default state and no email.

The header row names the columns (any case): Username (required), FirstName,
LastName, Email, Password, alternateEmail, MiddleName, displayName, jobTitle,
employeeIdentifier, department, costCenter, company, employeeType, location,
manager (the manager's username), mobile_number, work_number,
state (STAGED, ACTIVE or SUSPENDED), Group1, Group2, ... (group names).
An empty cell means "not set". \`roster export\` writes the same columns.

Options:
  --dry-run    check every line and report, but write nothing
  -h, --help   show this help

Exits 1 when any line failed.
`,
  export: `Usage: roster export [--format csv|json] [--out FILE] [--raw]

Streams every user from GET /admin/v1/exports/users. The CSV form has the
columns \`roster import\` reads, so an export re-imports into the same users.
CSV cells a spreadsheet would run as a formula (= + - @ tab CR) get a leading '
(the import removes it).

Options:
  --format csv|json   the format (default csv)
  -o, --out FILE      write to FILE (replaced only when the export completes)
                      instead of standard output
  --raw               CSV values exactly as stored (no ' before formulas)
  -h, --help          show this help
`,
  users: `Usage: roster users <action> ID... [options]

Actions:
  activate ID...          STAGED or SUSPENDED -> ACTIVE now (sends the activation or welcome email)
  suspend ID...           -> SUSPENDED now
  send-activation ID...   send or resend the activation email (a reset email to users with a password)
  send-reset ID...        send a password reset email (ACTIVE users only)
  schedule ID... --state ACTIVE|SUSPENDED --at ISO-DATE
                          schedule a state change

ID is a user id; "-" reads ids from standard input (whitespace-separated).

Options:
  --destination company|alternate|EMAIL
                          where the email goes (activate, send-activation, send-reset, schedule)
  --no-email              change the state without sending an email (activate, schedule)
  --state STATE           schedule: ACTIVE or SUSPENDED
  --at DATE               schedule: when, as an ISO 8601 date-time (e.g. 2024-09-01T08:00:00Z)
  -h, --help              show this help

Prints one row per id (id, ok or error, message); exits 1 when any failed.
`,
  events: `Usage: roster events [--type TYPE] [--user ID] [--since DATE] [--until DATE] [--limit N] [--cursor C] [--json]

Shows the event log (GET /admin/v1/events), newest first, as a table of
timestamp, type, user, who acted, success and email recipient.

Options:
  --type TYPE     only these types (repeat, or separate with commas), e.g. user_activated
  --user ID       only events about this user (or group) id
  --since DATE    from this ISO 8601 date or date-time (inclusive)
  --until DATE    before this ISO 8601 date or date-time
  --limit N       at most N events (1-1000, default 100)
  --cursor C      continue after a previous page (printed when more events exist)
  --json          print the raw JSON answer instead of a table
  -h, --help      show this help
`,
  'oauth-clients': `Usage: roster oauth-clients <action> [ID] [options]

OAuth 2.0 clients of the token endpoint (POST /oauth/token, client credentials grant),
through /admin/v1/oauth/clients.

Actions:
  create --name NAME --source manual|bulk|integration [--scope SCOPE]... [--jwk-file FILE]
                 register a client; prints its client_id and, without --jwk-file,
                 its client_secret (shown only this once)
  list           every client, active or revoked
  show ID        one client (never its secret)
  rotate ID      a new secret; the previous one keeps working for oauth.secretOverlapHours
  revoke ID      no more tokens, and the tokens it holds are refused at once

Options:
  --scope SCOPE     scim:read, scim:write or admin (repeat, or separate with commas);
                    default scim:read and scim:write
  --jwk-file FILE   the client's public key as a JWK (JSON): the client authenticates
                    with private_key_jwt (RFC 7523) instead of a secret
  --json            print the raw JSON answer
  -h, --help        show this help
`,
};
