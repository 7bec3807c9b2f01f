#!/usr/bin/python3
"""Registers the services in Keystone (phase1) and creates what ehos tests use
(phase2): project `ehos`, user `ehos`, quotas, flavors, an image, an
application credential and clouds.yaml. Idempotent: finds before creating.
Runs inside the bookworm root, called by /opt/ehos/inside.sh."""
import json
import os
import sys

import openstack

RUN = "/var/lib/ehos-run"
KS = "http://127.0.0.1:5000/v3"
REGION = "RegionOne"


def secrets():
    out = {}
    with open(os.path.join(RUN, "secrets.env")) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                out[k] = v
    return out


S = secrets()


def connect(user="admin", password=None, project="admin"):
    return openstack.connect(
        auth_url=KS, username=user, password=password or S["ADMIN_PASS"],
        project_name=project, user_domain_name="Default", project_domain_name="Default",
        region_name=REGION, identity_api_version="3", interface="public",
        # a service that stops answering fails the setup instead of hanging it
        api_timeout=60)


SERVICES = [  # name, type, url
    ("nova", "compute", "http://127.0.0.1:8774/v2.1"),
    ("glance", "image", "http://127.0.0.1:9292"),
    ("placement", "placement", "http://127.0.0.1:8778"),
    ("neutron-stub", "network", "http://127.0.0.1:9696"),
]
SERVICE_USERS = ["nova", "glance", "placement"]

FLAVORS = [  # name, vcpus, ram MiB, disk GiB
    ("m1.small", 1, 512, 1),
    ("m1.medium", 2, 1024, 2),
    ("m1.large", 4, 2048, 4),
]
QUOTAS = dict(instances=10, cores=20, ram=20480)
IMAGE = "ehos-test-image"


def project(conn, name, desc):
    p = conn.identity.find_project(name, domain_id="default")
    return p or conn.identity.create_project(name=name, domain_id="default", description=desc)


def user(conn, name, password, proj):
    u = conn.identity.find_user(name, domain_id="default")
    if u:
        # Keep the password in step with secrets.env.
        conn.identity.update_user(u, password=password)
        return u
    return conn.identity.create_user(name=name, password=password, domain_id="default",
                                     default_project_id=proj.id)


def phase1():
    conn = connect()
    service = project(conn, "service", "OpenStack service users")
    ehos = project(conn, "ehos", "ehos tests")
    admin_role = conn.identity.find_role("admin")
    member_role = conn.identity.find_role("member")
    for name in SERVICE_USERS:
        u = user(conn, name, S["SERVICE_PASS"], service)
        conn.grant_role(admin_role.id, user=u.id, project=service.id)
        # service_token_roles_required: the service role.
        svc_role = conn.identity.find_role("service") or conn.identity.create_role(name="service")
        conn.grant_role(svc_role.id, user=u.id, project=service.id)
    e = user(conn, "ehos", S["EHOS_PASS"], ehos)
    conn.grant_role(member_role.id, user=e.id, project=ehos.id)
    have = {(s.type): s for s in conn.identity.services()}
    for name, typ, url in SERVICES:
        svc = have.get(typ) or conn.identity.create_service(name=name, type=typ, enabled=True,
                                                             description=name)
        eps = list(conn.identity.endpoints(service_id=svc.id))
        for iface in ("public", "internal", "admin"):
            if not any(ep.interface == iface for ep in eps):
                conn.identity.create_endpoint(service_id=svc.id, interface=iface, url=url,
                                              region_id=REGION)


def phase2():
    conn = connect()
    ehos = conn.identity.find_project("ehos", domain_id="default")
    eu = conn.identity.find_user("ehos", domain_id="default")
    for name, vcpus, ram, disk in FLAVORS:
        if not conn.compute.find_flavor(name, ignore_missing=True):
            conn.compute.create_flavor(name=name, vcpus=vcpus, ram=ram, disk=disk, is_public=True)
    conn.set_compute_quotas(ehos.id, **QUOTAS)
    img = conn.image.find_image(IMAGE, ignore_missing=True)
    if img and img.status != "active":  # an upload cut short by an earlier run
        conn.image.delete_image(img)
        img = None
    if not img:
        # Plain Image API v2 calls: the SDK's create_image(data=...) in this
        # version left the image "queued". The fake virt driver never reads the
        # bits: 1 MiB of zeros is enough.
        r = conn.image.post("/images", json={
            "name": IMAGE, "disk_format": "raw", "container_format": "bare",
            "visibility": "public"})
        r.raise_for_status()
        iid = r.json()["id"]
        r = conn.image.put("/images/%s/file" % iid, data=b"\0" * (1 << 20),
                           headers={"Content-Type": "application/octet-stream"})
        r.raise_for_status()
        status = conn.image.get("/images/%s" % iid).json()["status"]
        if status != "active":
            sys.exit("image %s is %s after upload, not active" % (IMAGE, status))

    # Application credential for user ehos: its secret is shown only at creation, so
    # keep it in the state dir; recreate it when the saved one is gone.
    econn = connect("ehos", S["EHOS_PASS"], "ehos")
    path = os.path.join(RUN, "appcred.json")
    saved = json.load(open(path)) if os.path.exists(path) else None
    existing = econn.identity.find_application_credential(eu.id, "ehos-test", ignore_missing=True)
    if existing and (not saved or saved["id"] != existing.id):
        econn.identity.delete_application_credential(eu.id, existing.id)
        existing = None
    if not existing:
        ac = econn.identity.create_application_credential(eu.id, "ehos-test",
                                                           description="ehos integration tests")
        saved = {"id": ac.id, "secret": ac.secret}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(saved, f)

    base = {"region_name": REGION, "interface": "public", "identity_api_version": 3}
    clouds = {"clouds": {
        "ehos": dict(base, auth={
            "auth_url": KS, "username": "ehos", "password": S["EHOS_PASS"],
            "project_name": "ehos", "user_domain_name": "Default", "project_domain_name": "Default"}),
        "ehos-appcred": dict(base, auth_type="v3applicationcredential", auth={
            "auth_url": KS, "application_credential_id": saved["id"],
            "application_credential_secret": saved["secret"]}),
        "ehos-admin": dict(base, auth={
            "auth_url": KS, "username": "admin", "password": S["ADMIN_PASS"],
            "project_name": "admin", "user_domain_name": "Default", "project_domain_name": "Default"}),
    }}
    # JSON is YAML: no PyYAML formatting surprises, and Go's yaml.v3 reads it.
    lines = ["# Written by scripts/openstack-up.sh: a real OpenStack (Zed) on 127.0.0.1.",
             "# ehos: project member (password); ehos-appcred: same user, application",
             "# credential; ehos-admin: cloud admin (reads user-data, sets quotas)."]
    text = "\n".join(lines) + "\n" + to_yaml(clouds)
    fd = os.open(os.path.join(RUN, "clouds.yaml"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def to_yaml(v, indent=0):
    pad = "  " * indent
    out = ""
    for k, val in v.items():
        if isinstance(val, dict):
            out += "%s%s:\n%s" % (pad, k, to_yaml(val, indent + 1))
        else:
            out += "%s%s: %s\n" % (pad, k, json.dumps(val))
    return out


if __name__ == "__main__":
    {"phase1": phase1, "phase2": phase2}[sys.argv[1]]()
