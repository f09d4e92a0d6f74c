#!/usr/bin/env bash
# test-outputs.sh - the output rules of docs/cli.md ("Output files"), issue 16:
#   - a symlink given as an output has its target replaced; the link stays a link (a dangling link
#     gets its target created); /dev/stdout writes to whatever stdout is (a file, a pipe) and is
#     never replaced; a device is written in place (JSON) or refused (HDF5, exit 4)
#   - SIGINT, SIGTERM and SIGHUP during quantize leave no OUT.tmp-<pid> (exit 128+signal)
#   - a temporary file of a killed run (its process gone) is removed, with a notice, by the next run
#     that writes the same output (or into the same sweep directory); a live process's is kept
#   - a full disk is exit 4 with one line, never a crash: a file size limit (ulimit -f, always run)
#     and a 2 MB tmpfs (skipped where mount is not permitted)
# Outputs onto inputs (exit 4 before any work) are cases of test-badinput.sh.
source "$(dirname "$0")/lib.sh"

GOOD=$FIXTURES/fx-tiny.h5
BIG=$SAMPLE_LATE        # 12.5 MB: quantize with --mem-limit 1M runs long enough to be interrupted
[ -f "$BIG" ] || { echo "missing $BIG"; exit 1; }

# a process id that is certainly not running now
dead_pid() { sh -c 'exit 0' & local p=$!; wait $p; echo $p; }

# ---- symlinks -------------------------------------------------------------------------------------
D=$T/links; mkdir -p "$D/sub"
echo old >"$D/target.json"; ln -s target.json "$D/link.json"
run inspect -q "$GOOD" -o "$D/link.json"
check_rc "inspect -o SYMLINK: exit 0" 0
check "inspect -o SYMLINK: the link is still a symlink" test -L "$D/link.json"
check_eq "inspect -o SYMLINK: the link still points at its target" target.json "$(readlink "$D/link.json")"
check_grep "inspect -o SYMLINK: the target holds the JSON" '"schema":.*"lbq.inspect"' "$D/target.json"
check_no_tmp "inspect -o SYMLINK: no temporary file" "$D"

ln -s sub/new.json "$D/dangling.json"
run inspect -q "$GOOD" -o "$D/dangling.json"
check_rc "inspect -o DANGLING-SYMLINK: exit 0" 0
check "inspect -o DANGLING-SYMLINK: the link is still a symlink" test -L "$D/dangling.json"
check_grep "inspect -o DANGLING-SYMLINK: its target is created" '"lbq.inspect"' "$D/sub/new.json"

: >"$D/q-target.h5"; ln -s q-target.h5 "$D/q-link.h5"
run quantize -q "$GOOD" --recipe lpmm4 -o "$D/q-link.h5"
check_rc "quantize -o SYMLINK: exit 0" 0
check "quantize -o SYMLINK: the link is still a symlink" test -L "$D/q-link.h5"
run inspect -q "$D/q-target.h5"
check_rc "quantize -o SYMLINK: the target is the HDF5 output (inspect reads it)" 0
check_no_tmp "quantize -o SYMLINK: no temporary file" "$D"

# /dev/stdout: to a regular file, to a pipe; never replaced.  Tested through a private link to
# /proc/self/fd/1 (what /dev/stdout is), so that a lbq that renames onto the link cannot replace
# the system's /dev/stdout.
ln -s /proc/self/fd/1 "$D/stdout"
"$LBQ" inspect -q "$GOOD" -o "$D/stdout" >"$D/redirected.json" 2>"$ERR"; RC=$?
check_eq "inspect -o STDOUT-LINK > FILE: exit 0" 0 "$RC"
check_grep "inspect -o STDOUT-LINK > FILE: FILE holds the JSON" '"lbq.inspect"' "$D/redirected.json"
"$LBQ" inspect -q "$GOOD" -o "$D/stdout" 2>"$ERR" | cat >"$D/piped.json"; RC=${PIPESTATUS[0]}
check_eq "inspect -o STDOUT-LINK | cat: exit 0" 0 "$RC"
check_grep "inspect -o STDOUT-LINK | cat: the pipe carries the JSON" '"lbq.inspect"' "$D/piped.json"
check "STDOUT-LINK is still a symlink" test -L "$D/stdout"
check_eq "STDOUT-LINK still points at /proc/self/fd/1" /proc/self/fd/1 "$(readlink "$D/stdout")"
check_no_tmp "STDOUT-LINK: no temporary file" "$D"

run inspect -q "$GOOD" -o /dev/null
check_rc "inspect -o /dev/null: exit 0 (written in place)" 0
check "/dev/null is still a character device" test -c /dev/null
run quantize -q "$GOOD" --recipe lpmm4 -o /dev/null
check_error_contract "quantize -o /dev/null (HDF5 needs a regular file)" 4
check_eq "quantize -o /dev/null: the message" "lbq: error: -o /dev/null: exists and is not a regular file" "$(cat "$ERR")"
check "/dev/null is still a character device after quantize" test -c /dev/null

# ---- signals: no temporary file left -------------------------------------------------------------
D=$T/sig; mkdir -p "$D"
for sig in INT TERM HUP; do
    caught=0
    for try in 1 2 3 4 5; do
        rm -f "$D"/q.h5*
        # a background job of a script starts with SIGINT ignored: restore the default first
        env --default-signal=INT,TERM,HUP "$LBQ" quantize -q "$BIG" --recipe lpmm4 --mem-limit 1M -o "$D/q.h5" 2>"$ERR" &
        pid=$!
        for i in $(seq 500); do compgen -G "$D/q.h5.tmp-*" >/dev/null && break; sleep 0.005; done
        kill -s "$sig" "$pid" 2>/dev/null
        wait "$pid"; RC=$?
        [ "$RC" -ne 0 ] && { caught=1; break; }
    done
    if [ $caught = 0 ]; then skip "quantize + SIG$sig" "the run ended before the signal 5 times"; continue; fi
    want=$((128 + $(kill -l "$sig")))
    check_eq "quantize + SIG$sig: dies by the signal (exit $want)" "$want" "$RC"
    check_no_tmp "quantize + SIG$sig: no temporary file left" "$D"
    check "quantize + SIG$sig: no output" test ! -e "$D/q.h5"
done

# ---- stale temporary files of a killed run --------------------------------------------------------
D=$T/stale; mkdir -p "$D"
P1=$(dead_pid); P2=$(dead_pid)
echo junk >"$D/q.h5.tmp-$P1"
echo busy >"$D/q.h5.tmp-$$"         # this shell is alive: its file must stay
run quantize "$GOOD" --recipe lpmm4 -o "$D/q.h5"
check_rc "quantize after a killed run: exit 0" 0
check "quantize: the dead run's temporary file is removed" test ! -e "$D/q.h5.tmp-$P1"
check_grep "quantize: a notice names it" "^lbq: removed $D/q.h5.tmp-$P1, left by an interrupted lbq run \(process $P1 is gone\)$" "$ERR"
check "quantize: a live process's temporary file is kept" test -e "$D/q.h5.tmp-$$"
rm -f "$D/q.h5.tmp-$$"
mkdir -p "$D/sw"
echo junk >"$D/sw/results.json.tmp-$P2"
run sweep "$GOOD" -o "$D/sw" --map dtree --bits 4 --block 128 --no-plot --no-swamp
check_rc "sweep after a killed sweep: exit 0" 0
check "sweep: the killed sweep's results.json.tmp-PID is removed" test ! -e "$D/sw/results.json.tmp-$P2"
check_grep "sweep: a notice names it" "^lbq: removed $D/sw/results.json.tmp-$P2, left by an interrupted lbq run" "$ERR"

# ---- a full disk: exit 4, one line, never a crash -------------------------------------------------
D=$T/fsize; mkdir -p "$D"
# a file size limit of 1 MiB makes writes fail as on a full disk (SIGXFSZ ignored: EFBIG)
LAST_CMD="(ulimit -f 1024) lbq quantize BIG -o q.h5"
( ulimit -f 1024; trap '' XFSZ; exec "$LBQ" quantize -q "$BIG" --recipe lpmm4 -o "$D/q.h5" ) >"$OUT" 2>"$ERR"; RC=$?
check_error_contract "quantize with a 1 MiB file size limit" 4
check_eq "quantize with a file size limit: the message" "lbq: error: $D/q.h5: write failed (disk full?)" "$(cat "$ERR")"
check_no_tmp "quantize with a file size limit: no temporary file" "$D"
check "quantize with a file size limit: no output" test ! -e "$D/q.h5"

MNT=$T/tmpfs; mkdir -p "$MNT"
if mount -t tmpfs -o size=2m lbq-test "$MNT" 2>/dev/null; then
    trap 'umount "$MNT" 2>/dev/null; _lib_cleanup' EXIT
    run quantize -q "$BIG" --recipe lpmm4 -o "$MNT/q.h5"
    check_error_contract "quantize onto a full 2 MB tmpfs" 4
    check_eq "quantize onto a full tmpfs: the message" "lbq: error: $MNT/q.h5: write failed (disk full?)" "$(cat "$ERR")"
    check_eq "quantize onto a full tmpfs: nothing left" "" "$(ls -A "$MNT")"
    # the disk full of another file: emptying the temporary file cannot make room for the close
    head -c 1900000 /dev/zero >"$MNT/filler" 2>/dev/null
    run quantize -q "$BIG" --recipe lpmm4 -o "$MNT/q.h5"
    check_error_contract "quantize onto a tmpfs filled by another file" 4
    check_eq "quantize onto a filled tmpfs: only the filler left" "filler" "$(ls -A "$MNT")"
    head -c 2097152 /dev/zero >"$MNT/filler" 2>/dev/null
    run inspect -q "$BIG" -o "$MNT/i.json"
    check_error_contract "inspect -o JSON onto a full tmpfs" 4
    check_eq "inspect onto a full tmpfs: the message" "lbq: error: $MNT/i.json: write failed: No space left on device" "$(cat "$ERR")"
    check_eq "inspect onto a full tmpfs: only the filler left" "filler" "$(ls -A "$MNT")"
    umount "$MNT"
else
    skip "full tmpfs" "mount -t tmpfs is not permitted here (the file size limit case above still ran)"
fi

finish
