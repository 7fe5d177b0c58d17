# Shared by k8s-up.sh and k8s-down.sh (sourced; expects RUN, the pid-file directory).

# The live pid of a component, from its pid file; empty when it is not running. A pid whose command line
# does not mention the component (a recycled pid) does not count.
pid_of() {
  local pidfile="$RUN/$1.pid" pid cmdline
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  if [[ $cmdline == *"$1"* ]]; then echo "$pid"; fi
}
