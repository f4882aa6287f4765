#!/bin/sh
# Real Keystone + Glance on loopback for tests and experiments:
#   scripts/real-openstack.sh start|stop|status [--dir DIR] [--json|--env]
# State lives in $REAL_OPENSTACK_DIR (default $TMPDIR/dibctl-real-openstack).
exec node "$(dirname "$0")/real-openstack.js" "$@"
