# Print the CHANGELOG.md section of one version (Keep a Changelog format):
#   awk -v v=0.1.0 -f bin/release-notes.awk CHANGELOG.md
# The heading line itself is not printed; leading and trailing blank lines
# are dropped.  Exit status 1 when the version has no section.

BEGIN { found = 0; inside = 0; n = 0 }

/^## \[/ {
    if (inside) { inside = 0 }
    heading = $0
    sub(/^## \[/, "", heading)
    sub(/\].*$/, "", heading)
    if (heading == v) { inside = 1; found = 1; next }
}

# link reference definitions at the bottom belong to no section
/^\[[^]]+\]: / { inside = 0 }

inside { lines[n++] = $0 }

END {
    if (!found) {
        print "release-notes: no section for version " v > "/dev/stderr"
        exit 1
    }
    first = 0
    while (first < n && lines[first] ~ /^[ \t]*$/) first++
    last = n - 1
    while (last >= first && lines[last] ~ /^[ \t]*$/) last--
    for (i = first; i <= last; i++) print lines[i]
}
