#!/usr/bin/python
# Copyright: (c) 2025, forumops.discourse contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: valkey_check
short_description: Check that a Valkey or Redis server answers and accepts a password; report its settings
version_added: "0.1.0"
description:
  - Connects to a Valkey (or Redis) server over TCP, optionally with TLS, sends C(PING), authenticates
    with C(AUTH) and reads C(INFO). Reports whether the server demands authentication and the
    settings a Discourse deployment depends on - the eviction policy, AOF, cluster mode and the
    replication role.
  - Speaks RESP2 with the Python standard library only; neither the C(redis) nor the C(valkey)
    Python package is needed.
  - Never changes the server; runs the same in check mode.
  - Fails when the server cannot be reached, the TLS handshake fails, or the credentials are
    refused; RV(reason) says which. Judging the reported settings is left to the caller.
author:
  - forumops engineering (@forumops)
options:
  host:
    description: Host name or address of the server.
    type: str
    required: true
  port:
    description: TCP port of the server.
    type: int
    default: 6379
  username:
    description:
      - ACL user to authenticate as (C(AUTH username password)). Leave unset for the C(default)
        user (C(AUTH password), as with C(requirepass)).
    type: str
  password:
    description:
      - Password for C(AUTH). Without it the module only succeeds against a server that accepts
        unauthenticated clients.
    type: str
  tls:
    description: Connect with TLS.
    type: bool
    default: false
  tls_ca_cert:
    description: CA bundle that signs the server's certificate; the system trust store when unset.
    type: path
  tls_validate_certs:
    description: Verify the server's certificate and host name.
    type: bool
    default: true
  tls_server_name:
    description: Host name to send (SNI) and verify, when it differs from O(host).
    type: str
  connect_timeout:
    description: Seconds to wait for the connection and for each reply.
    type: float
    default: 5.0
notes:
  - Supports check mode; the module never writes to the server.
"""

EXAMPLES = r"""
- name: Check the external Valkey server
  forumops.discourse.valkey_check:
    host: valkey.example.net
    port: 6380
    password: "{{ vault_valkey_password }}"
    tls: true
  register: valkey
  no_log: true

- name: Refuse a server that evicts keys
  ansible.builtin.assert:
    that: valkey.server.maxmemory_policy == 'noeviction'
"""

RETURN = r"""
auth_required:
  description: Whether the server refused an unauthenticated C(PING).
  returned: success
  type: bool
  sample: true
server:
  description: Settings read from C(INFO).
  returned: success
  type: dict
  contains:
    server_name:
      description: C(valkey) or C(redis).
      type: str
      sample: valkey
    version:
      description: The server's own version (C(valkey_version), else C(redis_version)).
      type: str
      sample: 8.1.8
    redis_version:
      description: The Redis protocol version the server claims compatibility with.
      type: str
      sample: 7.2.4
    mode:
      description: C(standalone), C(cluster) or C(sentinel).
      type: str
      sample: standalone
    role:
      description: Replication role, C(master) for a primary.
      type: str
      sample: master
    maxmemory_policy:
      description: The eviction policy.
      type: str
      sample: noeviction
    maxmemory:
      description: The memory cap in bytes, 0 for none.
      type: int
      sample: 0
    aof_enabled:
      description: Whether the append-only file is on.
      type: bool
      sample: true
    cluster_enabled:
      description: Whether cluster mode is on.
      type: bool
      sample: false
reason:
  description:
    - On failure, what went wrong - C(connect) (unreachable, refused, timed out), C(tls) (handshake or
      certificate), C(auth) (credentials refused or missing), C(command) (the server refused a
      command, for example an ACL without C(INFO)) or C(protocol) (not a Valkey/Redis server).
  returned: failure
  type: str
  sample: auth
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.forumops.discourse.plugins.module_utils import valkey  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=dict(
            host=dict(type="str", required=True),
            port=dict(type="int", default=6379),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            tls=dict(type="bool", default=False),
            tls_ca_cert=dict(type="path"),
            tls_validate_certs=dict(type="bool", default=True),
            tls_server_name=dict(type="str"),
            connect_timeout=dict(type="float", default=5.0),
        ),
        supports_check_mode=True,
    )
    p = module.params
    where = f"{p['host']}:{p['port']}"
    try:
        with valkey.Connection(
            p["host"],
            p["port"],
            timeout=p["connect_timeout"],
            tls=p["tls"],
            ca_cert=p["tls_ca_cert"],
            validate_certs=p["tls_validate_certs"],
            server_name=p["tls_server_name"],
        ) as connection:
            result = valkey.check_server(connection, username=p["username"], password=p["password"])
    except valkey.ValkeyError as exc:
        message = str(exc)
        if where not in message:
            message = f"{where}: {message}"
        module.fail_json(msg=message, reason=exc.reason)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
