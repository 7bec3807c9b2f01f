#!/usr/bin/python3
"""neutron-stub: NOT Neutron. A minimal in-memory stand-in for the Networking
API on 127.0.0.1:9696, just enough for Nova (Zed) with the fake virt driver and
for ehos' own checks (networks, subnets, ports, security groups and rules,
extensions, quotas, floating IPs).

Why a stub: a real neutron-server needs an ML2 agent and a dataplane (OVS or
linuxbridge) that this test machine cannot give it cheaply. Nova only needs the
port lifecycle (create, bind, list, delete) to boot a server onto a network.

What it does NOT do: authenticate (any X-Auth-Token is accepted), enforce
quotas, policy, or pagination; no routers, no DHCP, no real addresses.
State is lost when it stops. Run by scripts/openstack-up.sh inside the root.
"""
import json
import re
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HOST = "127.0.0.1"
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9696

NET_ID = "6b9a1c52-3a57-4f33-9e59-0e0e5eb0a001"
SUBNET_ID = "6b9a1c52-3a57-4f33-9e59-0e0e5eb0a002"
SG_ID = "6b9a1c52-3a57-4f33-9e59-0e0e5eb0a003"

LOCK = threading.Lock()
# Resources whose tenant_id is "" belong to every project (the stub is not
# multi-tenant): they match any tenant_id/project_id filter.
STORE = {
    "networks": {
        NET_ID: {
            "id": NET_ID, "name": "ehos-stub-net", "subnets": [SUBNET_ID],
            "shared": True, "status": "ACTIVE", "admin_state_up": True,
            "router:external": False, "port_security_enabled": True,
            "mtu": 1500, "tenant_id": "", "project_id": "", "description":
            "neutron-stub network (no dataplane)", "tags": [],
        },
    },
    "subnets": {
        SUBNET_ID: {
            "id": SUBNET_ID, "name": "ehos-stub-subnet", "network_id": NET_ID,
            "cidr": "10.42.0.0/24", "ip_version": 4, "gateway_ip": "10.42.0.1",
            "enable_dhcp": False, "dns_nameservers": [], "host_routes": [],
            "allocation_pools": [{"start": "10.42.0.10", "end": "10.42.0.250"}],
            "tenant_id": "", "project_id": "", "tags": [],
        },
    },
    "ports": {},
    "security-groups": {
        SG_ID: {
            "id": SG_ID, "name": "default", "description": "neutron-stub default group",
            "tenant_id": "", "project_id": "", "stateful": True, "tags": [],
            "security_group_rules": [],
        },
    },
    "security-group-rules": {},
    "floatingips": {},
}
SINGULAR = {
    "networks": "network", "subnets": "subnet", "ports": "port",
    "security-groups": "security_group", "security-group-rules": "security_group_rule",
    "floatingips": "floatingip",
}
# Query parameters that are not filters.
NOT_FILTERS = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"}
NEXT_IP = [10]


def matches(res, query):
    for key, wanted in query.items():
        if key in NOT_FILTERS:
            continue
        if key in ("tenant_id", "project_id") and res.get(key, "") == "":
            continue
        if key not in res:
            return False
        val = res[key]
        sval = str(val).lower() if isinstance(val, bool) else str(val)
        if sval not in wanted:
            return False
    return True


def project_fields(res, fields):
    if not fields:
        return res
    return {k: v for k, v in res.items() if k in fields}


def new_port(body):
    with LOCK:
        n = NEXT_IP[0]
        NEXT_IP[0] += 1
    pid = str(uuid.uuid4())
    port = {
        "id": pid, "name": "", "network_id": NET_ID, "admin_state_up": True,
        "status": "ACTIVE", "mac_address": "fa:16:3e:%02x:%02x:%02x" % (n >> 16 & 255, n >> 8 & 255, n & 255),
        "fixed_ips": [{"subnet_id": SUBNET_ID, "ip_address": "10.42.0.%d" % (n % 240 + 10)}],
        "device_id": "", "device_owner": "", "tenant_id": "", "project_id": "",
        "security_groups": [SG_ID], "port_security_enabled": True,
        "binding:host_id": "", "binding:vif_type": "ovs", "binding:vnic_type": "normal",
        "binding:vif_details": {"port_filter": True}, "binding:profile": {},
        "allowed_address_pairs": [], "extra_dhcp_opts": [], "dns_name": "",
        "tags": [], "description": "",
    }
    port.update({k: v for k, v in body.items() if k not in ("fixed_ips", "id")})
    if port.get("project_id") and not port.get("tenant_id"):
        port["tenant_id"] = port["project_id"]
    port["project_id"] = port["tenant_id"]
    return port


def new_generic(coll, body):
    res = dict(body)
    res["id"] = str(uuid.uuid4())
    res.setdefault("tenant_id", res.get("project_id", ""))
    res["project_id"] = res["tenant_id"]
    res.setdefault("tags", [])
    if coll == "security-groups":
        res.setdefault("description", "")
        res.setdefault("security_group_rules", [])
    if coll == "security-group-rules":
        for k in ("protocol", "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id"):
            res.setdefault(k, None)
        res.setdefault("ethertype", "IPv4")
    return res


class Handler(BaseHTTPRequestHandler):
    server_version = "neutron-stub/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("neutron-stub: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, code, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(code)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Openstack-Request-Id", "req-" + str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(data)

    def not_found(self, what):
        self.reply(404, {"NeutronError": {"type": "NotFound", "message": "%s could not be found (neutron-stub)" % what, "detail": ""}})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n == 0:
            return {}
        return json.loads(self.rfile.read(n) or b"{}")

    def route(self):
        u = urlparse(self.path)
        path = u.path.rstrip("/")
        path = re.sub(r"\.json$", "", path)
        query = parse_qs(u.query, keep_blank_values=True)
        return path, query

    def do_GET(self):
        path, query = self.route()
        if path in ("",):
            return self.reply(200, {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
                {"rel": "self", "href": "http://%s:%d/v2.0/" % (HOST, PORT)}]}]})
        if path == "/v2.0":
            return self.reply(200, {"resources": [{"name": SINGULAR[c], "collection": c, "links": []} for c in SINGULAR]})
        if path == "/v2.0/extensions":
            return self.reply(200, {"extensions": []})
        m = re.fullmatch(r"/v2\.0/quotas/([^/]+)", path)
        if m:
            return self.reply(200, {"quota": {"network": -1, "subnet": -1, "port": -1, "router": -1,
                                              "floatingip": -1, "security_group": -1, "security_group_rule": -1}})
        m = re.fullmatch(r"/v2\.0/([a-z-]+)(?:/([^/]+))?", path)
        if not m or m.group(1) not in STORE:
            return self.not_found(path)
        coll, rid = m.group(1), m.group(2)
        fields = query.get("fields", [])
        with LOCK:
            if rid:
                res = STORE[coll].get(rid)
                if res is None:
                    return self.not_found("%s %s" % (SINGULAR[coll], rid))
                return self.reply(200, {SINGULAR[coll]: project_fields(self.expand(coll, res), fields)})
            items = [project_fields(self.expand(coll, r), fields) for r in STORE[coll].values() if matches(r, query)]
        return self.reply(200, {coll.replace("-", "_"): items})

    def expand(self, coll, res):
        if coll == "security-groups":
            res = dict(res)
            res["security_group_rules"] = [r for r in STORE["security-group-rules"].values()
                                           if r.get("security_group_id") == res["id"]]
        return res

    def do_POST(self):
        path, _ = self.route()
        m = re.fullmatch(r"/v2\.0/([a-z-]+)", path)
        if not m or m.group(1) not in STORE:
            return self.not_found(path)
        coll = m.group(1)
        body = self.body().get(SINGULAR[coll], {})
        res = new_port(body) if coll == "ports" else new_generic(coll, body)
        with LOCK:
            STORE[coll][res["id"]] = res
        return self.reply(201, {SINGULAR[coll]: self.expand(coll, res)})

    def do_PUT(self):
        path, _ = self.route()
        m = re.fullmatch(r"/v2\.0/([a-z-]+)/([^/]+)", path)
        if not m or m.group(1) not in STORE:
            return self.not_found(path)
        coll, rid = m.groups()
        body = self.body().get(SINGULAR[coll], {})
        with LOCK:
            res = STORE[coll].get(rid)
            if res is None:
                return self.not_found("%s %s" % (SINGULAR[coll], rid))
            res.update({k: v for k, v in body.items() if k != "id"})
            out = self.expand(coll, res)
        return self.reply(200, {SINGULAR[coll]: out})

    def do_DELETE(self):
        path, _ = self.route()
        m = re.fullmatch(r"/v2\.0/([a-z-]+)/([^/]+)", path)
        if not m or m.group(1) not in STORE:
            return self.not_found(path)
        coll, rid = m.groups()
        with LOCK:
            if STORE[coll].pop(rid, None) is None:
                return self.not_found("%s %s" % (SINGULAR[coll], rid))
        return self.reply(204)


if __name__ == "__main__":
    srv = ThreadingHTTPServer((HOST, PORT), Handler)
    srv.daemon_threads = True
    sys.stderr.write("neutron-stub: listening on %s:%d (NOT a real Neutron)\n" % (HOST, PORT))
    srv.serve_forever()
