#!/bin/sh
# mdBook preprocessor (see book.toml): fails the build when a chapter includes a file that does
# not exist, or names an `ANCHOR:` that the file does not have. mdBook itself only logs those.
# The same rules are checked by `cargo test --test book_includes`.
#
# Protocol: `check-includes.sh supports RENDERER` exits 0 (every renderer); otherwise stdin holds
# the JSON array [context, book] and stdout must get the book back, unchanged.
set -eu

if [ "${1:-}" = "supports" ]; then
    exit 0
fi

input=$(cat)

# Work from the book's root (the directory of book.toml), named in the context.
if command -v jq >/dev/null 2>&1; then
    root=$(printf '%s' "$input" | jq -r '.[0].root')
else
    root=$(printf '%s' "$input" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["root"])')
fi
cd "$root"
errors=0
found=$(mktemp)
trap 'rm -f "$found"' EXIT

for chapter in $(find src -name '*.md' | sort); do
    dir=$(dirname "$chapter")
    # Every `{{#include ...}}` / `{{#rustdoc_include ...}}`, including escaped ones (`\{{#...`),
    # which are printed literally by mdBook and skipped here.
    grep -o '\\\{0,1\}{{#\(rustdoc_\)\{0,1\}include [^}]*}}' "$chapter" | while IFS= read -r link; do
        case "$link" in
            \\*) continue ;;
        esac
        spec=${link#*include }
        spec=${spec%\}\}}
        spec=$(printf '%s' "$spec" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
        path=${spec%%:*}
        anchor=""
        case "$spec" in
            *:*) anchor=${spec#*:} ;;
        esac
        target="$dir/$path"
        if [ ! -f "$target" ]; then
            echo "error: $chapter: $link: no file $target" >&2
            echo x
            continue
        fi
        # `file:NAME` names an anchor; `file:10`, `file:10:20`, `file::20` are line ranges.
        case "$anchor" in
            "" | *[!A-Za-z0-9_-]* | [0-9]*) ;;
            *)
                if ! grep -Eq "ANCHOR:[[:space:]]*$anchor([^A-Za-z0-9_-]|\$)" "$target"; then
                    echo "error: $chapter: $link: $target has no \`ANCHOR: $anchor\`" >&2
                    echo x
                fi
                ;;
        esac
    done > "$found"
    if [ -s "$found" ]; then
        errors=1
    fi
done

if [ "$errors" -ne 0 ]; then
    echo "error: broken {{#include}} in the book (see above)" >&2
    exit 1
fi

# Hand the book (the second element) back unchanged.
if command -v jq >/dev/null 2>&1; then
    printf '%s' "$input" | jq -c '.[1]'
else
    printf '%s' "$input" | python3 -c 'import json, sys; json.dump(json.load(sys.stdin)[1], sys.stdout, separators=(",", ":"))'
fi
