# Shared by the VM test bed scripts.  Sourced, not run.

# Where the guest kernel and root filesystem are cached, outside the checkout
# so that a fresh clone on the same machine reuses them.
: "${IOMMUD_CACHE:=/var/cache/iommud-testbed}"
vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "$*"; exit 1; }

# hash_inputs FILE... : a short hash of the files' contents plus any extra
# text on stdin (package versions), for cache keys.
hash_inputs() {
	{ cat; for f in "$@"; do basename "$f"; cat "$f"; done; } | sha256sum | cut -c1-16
}

# pkg_version PKG : the version apt would install now (for cache keys).
pkg_version() {
	apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'
}

# prune_cache PREFIX KEEP : remove older cache entries of one kind.
prune_cache() {
	local d
	for d in "$IOMMUD_CACHE/$1"-*; do
		[ -d "$d" ] && [ "$d" != "$IOMMUD_CACHE/$1-$2" ] && rm -rf "$d"
	done
	return 0
}
