#!/usr/bin/env bash
# demo.sh walks through aim-mcp on a throw-away home directory: it wraps a
# small MCP server in a sample Claude Desktop config, makes an allowed, a
# denied and an approved tool call through a stand-in for Claude Desktop,
# shows and verifies the audit trail, and gives the config back byte for
# byte. It needs Go and bash, no network, no Claude Desktop, and touches
# nothing outside its temporary directory.
#
# Usage: bash examples/demo.sh    (AIM_MCP_DEMO_KEEP=1 keeps the temp dir)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
start=$SECONDS
keep=${AIM_MCP_DEMO_KEEP:-}

fail() {
	printf '\ndemo: FAILED: %s\n' "$*" >&2
	exit 1
}

case "$(uname -s)" in
Linux | Darwin) ;;
*) fail "this demo runs on Linux or macOS (found $(uname -s))" ;;
esac
command -v go >/dev/null || fail "go is not on PATH"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/aim-mcp-demo.XXXXXX")
tmp=$(cd "$tmp" && pwd -P)
client_pid=
cleanup() {
	local rc=$?
	if [ -n "$client_pid" ]; then
		kill "$client_pid" 2>/dev/null || true
		wait "$client_pid" 2>/dev/null || true
	fi
	if [ "$keep" = 1 ]; then
		echo "demo: kept $tmp" >&2
	else
		chmod -R u+w "$tmp" 2>/dev/null || true
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tilde='~'
heading() { printf '\n=== %s\n' "$*"; }

# show prints a command as a reader would type it, with the temp home as ~.
show() {
	local a s=
	for a in "$@"; do
		a=${a//"$HOME"/$tilde}
		case $a in
		*[!A-Za-z0-9_./:=@%+~-]* | '') a="'${a//\'/\'\\\'\'}'" ;;
		esac
		s+=" $a"
	done
	printf '$%s\n' "$s"
}

# indent prints text indented, the temp home shown as ~.
indent() {
	local s=${1//"$HOME"/$tilde}
	[ -z "$s" ] || printf '%s\n' "$s" | sed 's/^/    /'
}

# run CMD...: shows the command, runs it with stderr folded into stdout,
# keeps the output in $out and prints it. A non-zero exit fails the demo.
out=
run() {
	show "$@"
	local rc=0
	out=$("$@" 2>&1) || rc=$?
	indent "$out"
	[ "$rc" -eq 0 ] || fail "\"$*\" exited with status $rc"
}

# expect RE: the last output has a line matching the extended regexp RE.
expect() {
	grep -Eq -- "$1" <<<"$out" || fail "expected a line matching /$1/ in the output above"
}

# ------------------------------------------------------------------------
heading "Building aim-mcp, the notes server and the stand-in client"
bin=$tmp/home/bin
mkdir -p "$bin"
# Built with the caller's HOME, so Go's module and build caches are the usual ones.
(cd "$root" && go build -buildvcs=false -o "$bin/" ./cmd/aim-mcp ./examples/notes-server ./examples/client) ||
	fail "go build failed"
mv "$bin/client" "$bin/claude-desktop"
built=$SECONDS
echo "    built in $((built - start))s: $(cd "$bin" && echo *)"

# From here on HOME is the temp dir: aim-mcp's data, its config.yaml and
# Claude Desktop's config all live there.
export HOME=$tmp/home
export XDG_CONFIG_HOME=$HOME/.config XDG_DATA_HOME=$HOME/.local/share
export XDG_STATE_HOME=$HOME/.local/state XDG_CACHE_HOME=$HOME/.cache
# No AIM_* setting of the caller's (AIM_URL, AIM_MCP_HOME, ...) reaches aim-mcp:
# the demo uses the embedded registry in its own home.
for v in $(compgen -e); do
	case $v in AIM_*) unset "$v" ;; esac
done
export PATH=$bin:$PATH
mkdir -p "$HOME"
echo "    HOME is now $HOME, shown as ~ below (the files hold absolute paths)"

case "$(uname -s)" in
Darwin) config_dir="$HOME/Library/Application Support/Claude" ;;
*) config_dir="$XDG_CONFIG_HOME/Claude" ;;
esac
config=$config_dir/claude_desktop_config.json
notes_dir=$HOME/notes
mkdir -p "$config_dir" "$notes_dir"

# ------------------------------------------------------------------------
heading "Claude Desktop's config, before aim-mcp"
sample=$(<"$here/claude_desktop_config.json")
sample=${sample//@NOTES_SERVER@/"$bin/notes-server"}
sample=${sample//@NOTES_DIR@/"$notes_dir"}
printf '%s\n' "$sample" >"$config"
cp "$config" "$HOME/original.json"
show cat "$config"
indent "$(<"$config")"
# A note that was there before: delete_notes must not get to it.
echo "buy milk" >"$notes_dir/notes.txt"

# ------------------------------------------------------------------------
heading "aim-mcp install --dry-run: what would change (nothing is written)"
run aim-mcp install --dry-run
expect '^ *notes +would be wrapped'
expect '^ *figma +skipped: extension-managed'
expect '^ *linear +skipped: remote server'
expect 'dry run, nothing written'
cmp -s "$HOME/original.json" "$config" || fail "install --dry-run changed the config"

heading "aim-mcp install: register the notes server and wrap it"
run aim-mcp install
expect '^ *notes +wrapped'
expect '1 server\(s\) wrapped'
expect '^backup: '
echo "The notes entry now launches the server through aim-mcp proxy; nothing else changed:"
show cat "$config"
indent "$(<"$config")"
grep -q '"proxy"' "$config" || fail "the config does not launch aim-mcp proxy"
grep -q -- '"--server"' "$config" || fail "the wrapped entry does not name its server"
grep -q '"globalShortcut": "Alt+Space"' "$config" || fail "install lost globalShortcut"

heading "aim-mcp list: each server, wrapped or why not, with its identity"
run aim-mcp list
expect '^claude-desktop +notes +wrapped'
expect 'figma +skipped: extension-managed'
expect 'linear +skipped: remote server'

# ------------------------------------------------------------------------
heading "Policy: deny delete_notes; make add_note wait for a person"
echo "By default add_note runs: \"add\" is not a risky word and its hints say it neither only reads nor destroys."
run aim-mcp policy check --server notes --tool add_note
expect 'decision: the call runs'
run aim-mcp policy add --tool delete_notes --action deny
expect '^added rule [0-9]+: server "\*" tool "delete_notes" action deny'
run aim-mcp policy add --tool add_note --action approve
expect '^added rule [0-9]+: server "\*" tool "add_note" action approve'
run aim-mcp policy check --server notes --tool add_note
expect 'decision: the call waits for a person.s approval'
run aim-mcp policy check --server notes --tool delete_notes
expect 'decision: the call is refused'
run aim-mcp policy check --server notes --tool read_notes
expect 'decision: the call runs'
run aim-mcp policy list

# ------------------------------------------------------------------------
heading "Claude Desktop, played by examples/client (claude-desktop here)"
echo "It reads the config above, launches the \"notes\" entry as Claude Desktop does (command"
echo "and args as an argv, env added, no shell) - that is now aim-mcp proxy, which starts the"
echo "real server behind it - lists the tools, and makes the calls it is given, in order."

heading "An allowed call: read_notes (readOnlyHint, low risk)"
run claude-desktop -timeout 30s notes read_notes '{}'
expect '^read_notes: ok: 1 note\(s\): buy milk$'

heading "A denied call: delete_notes (the deny rule)"
run claude-desktop -timeout 30s notes delete_notes '{}'
expect '^delete_notes: refused: aim-mcp: call to "delete_notes" was not run: denied by rule [0-9]+'
grep -qx "buy milk" "$notes_dir/notes.txt" || fail "the denied delete_notes reached the server"
echo "The server never saw the call: $(wc -l <"$notes_dir/notes.txt" | tr -d ' ') note still in notes.txt."

heading "A call that waits for a person: add_note"
call=(claude-desktop -timeout 30s notes add_note '{"text":"call the plumber"}' read_notes '{}')
printf '%s &\n' "$(show "${call[@]}")"
"${call[@]}" >"$tmp/approved.out" 2>"$tmp/approved.err" &
client_pid=$!
# Poll for the request as a person would look at "aim-mcp approvals".
id=
for _ in $(seq 1 100); do
	pending=$(aim-mcp approvals --json 2>&1) || pending=
	if grep -q '"tool": "add_note"' <<<"$pending"; then
		id=$(grep -m 1 -oE '"id": "[^"]+"' <<<"$pending" | cut -d'"' -f4)
		break
	fi
	kill -0 "$client_pid" 2>/dev/null || break
	sleep 0.2
done
if [ -z "$id" ]; then
	indent "$(cat "$tmp/approved.out" "$tmp/approved.err")"
	fail "no approval for add_note appeared"
fi
kill -0 "$client_pid" 2>/dev/null || fail "the client did not wait for the approval"
[ ! -s "$tmp/approved.out" ] || fail "the client got an answer before the approval: $(<"$tmp/approved.out")"
echo "The client is waiting; the call is held by the proxy, not yet run."
run aim-mcp approvals
expect "^$id +pending +notes +add_note"
run aim-mcp approve "$id"
expect "^approved $id: add_note on notes may run once"
rc=0
wait "$client_pid" || rc=$?
client_pid=
out=$(<"$tmp/approved.out")
echo "The client's answers:"
indent "$out"
[ "$rc" -eq 0 ] || { indent "$(<"$tmp/approved.err")"; fail "the client exited with status $rc"; }
expect '^add_note: ok: added "call the plumber"'
expect '^read_notes: ok: 2 note\(s\): buy milk; call the plumber$'

# ------------------------------------------------------------------------
heading "aim-mcp logs: every call, decision and outcome, signed and hash-chained"
run aim-mcp logs
expect 'notes +call +read_notes +allow'
expect 'notes +denied +delete_notes +deny'
expect 'notes +call +add_note +approved'
expect 'notes +outcome +add_note +success'

heading "aim-mcp audit verify: every hash, link and signature checks out"
echo "Nothing was tampered with, so the whole chain verifies (an edited, deleted or"
echo "reordered record would be named and the command would exit 1)."
run aim-mcp audit verify
expect '^audit trail intact: [0-9]+ records from [0-9]+ servers? verified'
run aim-mcp audit verify --server notes
expect '^audit trail intact'

heading "aim-mcp list: the calls and denials of each server"
run aim-mcp list
expect '^claude-desktop +notes +wrapped .* 3 +1 +[0-9]{4}-'

# Commands that newer builds add are shown when this build has them.
commands=$(aim-mcp help)
has() { grep -Eq "^  $1 " <<<"$commands"; }
if has pins; then
	heading "aim-mcp pins: each tool, pinned when the server first listed it"
	run aim-mcp pins notes
	expect 'read_notes +pinned'
fi
if has trust; then
	heading "aim-mcp trust: the notes server's score, measured from its own record"
	run aim-mcp trust notes
	expect '[01]\.[0-9]+'
fi
if has report; then
	heading "aim-mcp report: compliance evidence (SOC 2 here) as JSON, CSV or PDF"
	run aim-mcp report --type soc2 -o "$HOME/soc2.json"
	run aim-mcp report --type soc2 --format pdf -o "$HOME/soc2.pdf"
	[ "$(head -c 5 "$HOME/soc2.pdf")" = "%PDF-" ] || fail "soc2.pdf is not a PDF"
	echo "The JSON report's summary:"
	out=$(sed -n '/"summary": {/,/}/p' "$HOME/soc2.json")
	indent "$out"
	expect '"refused": 1'
	expect '"human_approved": 1'
	expect '"chain_intact": true'
fi
if has watch; then
	heading "aim-mcp watch: Claude Desktop rewrote its config and dropped the wrapping"
	echo "Simulated here by putting back the file from before install; watch wraps the entry again."
	show cp "$HOME/original.json" "$config"
	cp "$HOME/original.json" "$config"
	run aim-mcp watch --once --client claude-desktop
	grep -q '"proxy"' "$config" || fail "aim-mcp watch --once did not wrap the notes server again"
	echo "    the notes entry launches aim-mcp proxy again"
fi

# ------------------------------------------------------------------------
heading "aim-mcp uninstall: Claude Desktop gets its config back"
run aim-mcp uninstall
expect 'restored from'
show cmp "$HOME/original.json" "$config"
cmp "$HOME/original.json" "$config" || fail "the config is not what it was before install"
echo "    identical, byte for byte"

printf '\ndemo: all steps passed in %ds\n' "$((SECONDS - start))"
