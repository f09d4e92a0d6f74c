# check-axis-labels.awk - every data plot of an lbq gnuplot script has an x and a y axis label.
#   awk -f tests/cli/check-axis-labels.awk plots/NAME.gp ...   (exit 1 and one line per missing label)
# A panel starts at "eval lbq_restore" (or at the file's start); "set xlabel"/"set ylabel" with text
# that contains a letter (directly, or as one branch of a ?: expression) counts, as does a label
# marked "# shared axis" (a side panel that shares the axis of the panel next to it).  A label that is
# unset, or set to an empty or blank string, does not count.  Plots after "eval lbq_keyband" or
# "eval lbq_keyside" draw only a key and need no labels.
function reset() { xl = 0; yl = 0; keyonly = 0 }
function has_text(line,    q) {
    if (line ~ /# shared axis/) return 1
    sub(/#.*/, "", line)
    sub(/^[ \t]*set [xy]label[ \t]*/, "", line)
    sub(/[ \t](font|offset|textcolor|tc|rotate|norotate|left|right|center)[ \t].*$/, "", line)   # only the label text itself
    while (match(line, /"[^"]*"/)) {        # the quoted strings of the label, one by one
        q = substr(line, RSTART, RLENGTH)
        if (q ~ /[A-Za-z]/) return 1
        line = substr(line, RSTART + RLENGTH)
    }
    return 0
}
FNR == 1 { reset() }
/^[ \t]*#/ { next }
/eval lbq_restore/ { xl = 0; yl = 0; keyonly = 0 }
/eval lbq_keyband|eval lbq_keyside/ { keyonly = 1 }
/^[ \t]*unset xlabel/ { xl = 0 }
/^[ \t]*unset ylabel/ { yl = 0 }
/^[ \t]*set xlabel/ { xl = has_text($0) }
/^[ \t]*set ylabel/ { yl = has_text($0) }
/^[ \t]*plot[ \t]/ {
    if (keyonly) next
    if (!xl) { printf "%s:%d: plot without an x axis label\n", FILENAME, FNR; bad = 1 }
    if (!yl) { printf "%s:%d: plot without a y axis label\n", FILENAME, FNR; bad = 1 }
}
END { exit bad ? 1 : 0 }
