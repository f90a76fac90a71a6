#!/bin/bash
# Runs a command under the restrictions of systemd/ztproxy.service, applied by
# hand, for hosts where systemd is not PID 1 (containers, CI sandboxes).
# Must run as root; nothing outside its own namespaces is changed.
#
#   sandbox.sh [--uid N] [--gid N] [--no-caps] [--needs PATH]... -- COMMAND [ARG]...
#
# What is emulated, and by what:
#   User=/Group=                  setpriv --reuid/--regid --clear-groups (default nobody)
#   AmbientCapabilities=, CapabilityBoundingSet=CAP_NET_BIND_SERVICE
#                                 setpriv --inh-caps/--ambient-caps/--bounding-set
#                                 (--no-caps: none, as with ztproxy-socket.conf)
#   NoNewPrivileges=yes           setpriv --no-new-privs
#   ProtectSystem=strict, ReadOnlyPaths=, ProtectKernelTunables=, ProtectControlGroups=
#                                 every mount re-bound read-only in a private mount namespace
#   PrivateTmp=yes                fresh tmpfs on /tmp and /var/tmp
#   PrivateDevices=yes, DevicePolicy=closed
#                                 tmpfs /dev with only null, zero, full, random, urandom, tty
#   ProtectHome=yes               /home, /root, /run/user hidden (unless a --needs path is there)
#   ProtectProc=invisible, ProcSubset=pid
#                                 new PID namespace, proc mounted hidepid=invisible,subset=pid
#   PrivateIPC=yes, ProtectHostname=yes
#                                 new IPC and UTS namespaces
#   UMask=0077, LimitNOFILE=262144
#                                 umask, ulimit
#   the clean service environment env -i, plus the unit's own Environment=
#                                 lines (NODE_ENV, NODE_OPTIONS, LD_PRELOAD), read
#                                 from systemd/ztproxy.service before the namespaces
# Not emulated (needs systemd's seccomp/BPF code): SystemCallFilter=,
# SystemCallArchitectures=, RestrictAddressFamilies=, RestrictNamespaces=,
# RestrictRealtime=, RestrictSUIDSGID=, LockPersonality=, ProtectClock=,
# ProtectKernelModules=, ProtectKernelLogs=, KeyringMode=, RemoveIPC=.
set -euo pipefail

uid=65534
gid=65534
caps=1
needs=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --uid) uid="$2"; shift 2 ;;
    --gid) gid="$2"; shift 2 ;;
    --no-caps) caps=0; shift ;;
    --needs) needs+=("$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "sandbox: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $# -gt 0 ]] || { echo "sandbox: no command" >&2; exit 2; }

if [[ "${ZTP_SANDBOX_INNER:-}" != 1 ]]; then
  args=(--uid "$uid" --gid "$gid")
  [[ $caps == 1 ]] || args+=(--no-caps)
  for n in "${needs[@]}"; do args+=(--needs "$n"); done
  # --kill-child: when unshare dies (the test kills it), PID 1 of the new
  # namespace gets SIGKILL, which takes every process in it along.
  # The unit's Environment= lines, read here: ProtectHome= may hide the checkout below.
  ZTP_UNIT_ENV="$(sed -n 's/^Environment=//p' "$(dirname "$0")/../../systemd/ztproxy.service")"
  export ZTP_UNIT_ENV
  exec env ZTP_SANDBOX_INNER=1 unshare --mount --propagation private --pid --fork \
    --kill-child --ipc --uts -- "$BASH" "$0" "${args[@]}" -- "$@"
fi

# ProtectSystem=strict: every mount read-only, keeping its other flags.
# remount,bind changes only this namespace's copy of the mount, never the
# file system itself (a plain remount,ro would change it for the host too).
while read -r _ _ _ _ mp opts _; do
  mp=$(printf '%b' "${mp//\\/\\0}")
  [[ "$mp" == /proc || "$mp" == /proc/* ]] && continue
  opts="${opts#rw}"
  mount -o "remount,bind,ro${opts:+,${opts#,}}" "$mp" 2>/dev/null \
    || mount -o remount,bind,ro "$mp" \
    || echo "sandbox: cannot make $mp read-only" >&2
done < /proc/self/mountinfo

# ProtectProc=invisible, ProcSubset=pid (we are PID 1 of a new PID namespace).
mount -t proc -o nosuid,nodev,noexec,hidepid=invisible,subset=pid proc /proc

# PrivateDevices=yes: a minimal /dev.
mount -t tmpfs -o mode=0755,nosuid,noexec tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/full c 1 7
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
mknod -m 666 /dev/tty c 5 0
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
mkdir /dev/shm
mount -t tmpfs -o mode=1777,nosuid,nodev,noexec tmpfs /dev/shm
mount -o remount,bind,ro,nosuid,noexec /dev

# PrivateTmp=yes. A needed path under /tmp (a checkout or a test directory
# there, as on CI machines that clone into /tmp) is kept visible: its
# directory is held open before the fresh tmpfs hides it, then bound back
# read-only at the same path, as ProtectSystem=strict leaves it.
keep_paths=()
keep_fds=()
for n in "${needs[@]}"; do
  n="${n%/}"
  case "$n" in
    /tmp/* | /var/tmp/*)
      inside=0
      for k in "${keep_paths[@]}"; do [[ "$n" == "$k" || "$n" == "$k"/* ]] && inside=1; done
      for m in "${needs[@]}"; do m="${m%/}"; [[ "$n" != "$m" && "$n" == "$m"/* ]] && inside=1; done
      [[ $inside == 1 ]] && continue
      exec {fd}<"$n"
      keep_paths+=("$n")
      keep_fds+=("$fd")
      ;;
  esac
done
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
[[ -d /var/tmp ]] && mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp
for i in "${!keep_paths[@]}"; do
  echo "sandbox: PrivateTmp keeps ${keep_paths[$i]} visible: a needed path is under it" >&2
  mkdir -p "${keep_paths[$i]}"
  mount --no-canonicalize --bind "/proc/self/fd/${keep_fds[$i]}" "${keep_paths[$i]}"
  mount -o remount,bind,ro "${keep_paths[$i]}"
  eval "exec ${keep_fds[$i]}<&-"
done

# ProtectHome=yes, unless the command itself lives there (a checkout in /home).
for h in /home /root /run/user; do
  [[ -d "$h" ]] || continue
  keep=0
  for n in "${needs[@]}"; do [[ "$n" == "$h" || "$n" == "$h"/* ]] && keep=1; done
  if [[ $keep == 1 ]]; then
    echo "sandbox: ProtectHome not emulated for $h: a needed path is under it" >&2
  else
    mount -t tmpfs -o ro,mode=000,nosuid,nodev,noexec tmpfs "$h"
  fi
done

umask 0077
ulimit -n 262144 2>/dev/null || ulimit -n "$(ulimit -Hn)"

if [[ $caps == 1 ]]; then
  capargs=(--inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service
    --bounding-set=-all,+net_bind_service)
else
  capargs=(--inh-caps=-all --ambient-caps=-all --bounding-set=-all)
fi
mapfile -t unit_env <<<"$ZTP_UNIT_ENV"
setpriv --reuid="$uid" --regid="$gid" --clear-groups "${capargs[@]}" --no-new-privs -- \
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 HOME=/nonexistent "${unit_env[@]}" "$@" &
# This shell stays PID 1 of the namespace rather than exec'ing the command:
# the kernel clears the parent-death signal of unshare --kill-child when
# setpriv changes credentials, so only this (root) shell reliably dies with
# unshare, and its death takes every process in the namespace along.
# SIGTERM/SIGHUP are passed on, like KillMode=mixed and ExecReload= do.
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
trap 'kill -HUP "$child" 2>/dev/null' HUP
status=0
while :; do
  wait "$child" && status=0 || status=$?
  kill -0 "$child" 2>/dev/null || break
done
exit "$status"
