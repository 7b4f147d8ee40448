#!/usr/bin/env bash
# Create the robot's data folders: $REDRAW_DATA (default /data/redraw) with bags/ (the logger writes
# there) and models/ (`scp` puts the policy there). Run by robot-entrypoint.sh on every start, since the
# `-v /data:/data` mount hides whatever the image itself holds under /data.
# The folders belong to the robot's login user ($REDRAW_OWNER, default 1000:1000: `duckie` on Duckietown's
# images; `id duckie` on the robot says), so `scp` can write models/ and read bags/, and they are setgid
# and group-writable: the logger runs as root, but with the entrypoint's umask 0002 what it writes into
# them stays the user's group's to read and delete.
set -eu
data="${REDRAW_DATA:-/data/redraw}"
owner="${REDRAW_OWNER:-1000:1000}"
parent="$(dirname "$data")"
if ! mountpoint -q "$parent" 2>/dev/null; then
  echo "redraw: warning: $parent is not a mount; add -v /data:/data or what is written to $data is lost with the container" >&2
fi
for dir in "$data" "$data/bags" "$data/models"; do
  mkdir -p "$dir"
  chown "$owner" "$dir" 2>/dev/null || echo "redraw: warning: cannot give $dir to $owner" >&2
  chmod 2775 "$dir"
done
