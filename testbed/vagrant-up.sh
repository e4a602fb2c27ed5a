#!/usr/bin/env bash
# Brings up the Vagrant testbed (testbed/Vagrantfile) and carries the files
# the machines exchange, with `vagrant ssh` and tar, in the order the
# provisioning needs: hosts' TPM facts to mgmt, then mgmt's site directory
# (CA certificate, certificates and keys, policies, VM configurations and
# images, rm keys) to the hosts. Run in testbed/ on the machine that runs
# Vagrant. Idempotent as the provisioning scripts are.
set -euo pipefail
cd "$(dirname "$0")"
site=/var/lib/tvd-site
hosts=(h1 h2)
vagrant up
for h in "${hosts[@]}"; do
  vagrant ssh "$h" -c "sudo tar -C $site -c hosts" |
    vagrant ssh mgmt -c "sudo tar -C $site -x"
done
vagrant provision mgmt --provision-with start
for h in "${hosts[@]}"; do
  vagrant ssh mgmt -c "sudo tar -C $site -c ." |
    vagrant ssh "$h" -c "sudo tar -C $site -x"
  vagrant provision "$h" --provision-with start
done
echo "Vagrant testbed up; e.g.: vagrant ssh h1 -c 'sudo tvdctl join blue --socket /var/lib/tvd-testbed/factory.sock'"
