#!/usr/bin/env bash
# A manual page from a template and the program's own --help, so that the
# page's SYNOPSIS and OPTIONS are what the installed binary says (they
# cannot drift from it); gzipped without a timestamp, as Debian installs
# them. packaging/CMakeLists.txt runs it on the release build's binaries.
#
# Usage: make-man.sh TEMPLATE OUT.gz VERSION DATE [--groups] PROGRAM...
#   TEMPLATE  roff with @VERSION@, @DATE@ and the lines @SYNOPSIS@ (the
#             --help "usage:" lines) and @OPTIONS@ (the rest of --help)
#   --groups  PROGRAM's help lists "Command groups:" (tvdctl): OPTIONS
#             gets each GROUP's `PROGRAM GROUP --help` as a subsection
#   PROGRAM   the command to run with --help (with an interpreter first
#             for a script)
set -euo pipefail
template=$1 out=$2 version=$3 date=$4
shift 4
groups=""
if [[ ${1:-} == --groups ]]; then
  groups=1
  shift
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# roff-escapes text for a no-fill block: backslashes, minus signs (so that
# they stay ASCII hyphens when copied), and a leading . or ' (a request).
escape() {
  sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
}
# nofill: stdin, escaped, as a no-fill block (kept as --help lays it out).
nofill() {
  echo ".nf"
  escape
  echo ".fi"
}

help=$("$@" --help)
# The usage lines: the first line and the indented ones right after it.
usage=$(awk 'NR == 1 || (started && /^       /) { print; started = 1; next } { exit }' <<<"$help")
rest=$(tail -n +"$(($(wc -l <<<"$usage") + 1))" <<<"$help" | sed '/./,$!d')
{
  sed -e 's/^usage: //' -e 's/^       //' <<<"$usage" | escape | sed 's/^/.B /; $!s/$/\n.br/'
} >"$work/synopsis"
{
  nofill <<<"$rest"
  if [[ -n $groups ]]; then
    local_groups=$(sed -n '/^Command groups:/,/^$/{/^  [a-z]/s/^  \([a-z-]*\).*/\1/p}' <<<"$help")
    [[ -n $local_groups ]] || { echo "make-man: $* --help lists no command groups" >&2; exit 1; }
    for g in $local_groups; do
      echo ".SS $g"
      "$@" "$g" --help | nofill
    done
  fi
} >"$work/options"

awk -v syn="$work/synopsis" -v opt="$work/options" '
  function cat(f,   l) { while ((getline l < f) > 0) print l; close(f) }
  /^@SYNOPSIS@$/ { cat(syn); next }
  /^@OPTIONS@$/ { cat(opt); next }
  { print }' "$template" |
  sed -e "s/@VERSION@/$version/g" -e "s/@DATE@/$date/g" >"$work/page"
gzip -9n <"$work/page" >"$out.tmp"
mv "$out.tmp" "$out"
