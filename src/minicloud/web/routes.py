"""The route table: every URL minicloud answers, in one place.

Columns: method, path pattern, endpoint name, handler, then options — ``auth``
(public | user | project | admin), ``role`` (least project role), ``body`` /
``query`` (JSON Schema checked by the handler and published in OpenAPI),
``status`` (what a success answers, when not 201 for POST / 204 for DELETE / 200),
``api=False`` for console pages. The OpenAPI document is generated from the
``api`` rows, and a test keeps the two in step.
"""
from __future__ import annotations

from minicloud.handlers.api import api_keys, audit, auth, health, openapi, operations, projects
from minicloud.handlers.api import hosts, images, instances, keypairs, quotas, templates
from minicloud.handlers.pages import admin as admin_page
from minicloud.handlers.pages import audit as audit_page
from minicloud.handlers.pages import auth as auth_page
from minicloud.handlers.pages import dashboard, docs, language, sections, static
from minicloud.handlers.pages import instances as instances_page
from minicloud.handlers.pages import projects as projects_page
from minicloud.web.router import Route

R = Route
ROUTES: list[Route] = [
    # ---- health -------------------------------------------------------------------------------
    R("GET", "/healthz", "health.live", health.healthz, auth="public", summary="The process is up", tags=("health",)),
    R("GET", "/readyz", "health.ready", health.readyz, auth="public", status=(200, 503),
      summary="The database and each configured backend are reachable", tags=("health",)),
    R("GET", "/api/v1/openapi.json", "openapi.document", openapi.document, auth="public",
      summary="This API as an OpenAPI 3.1 document", tags=("meta",)),
    # ---- accounts (UC-01) ---------------------------------------------------------------------
    R("POST", "/api/v1/auth/signup", "auth.signup", auth.signup, auth="public", body=auth.SIGNUP_BODY,
      summary="Create an account and its personal project", tags=("auth",)),
    R("GET", "/api/v1/auth/username-available", "auth.username_available", auth.username_available,
      auth="public", query=auth.AVAILABLE_QUERY, summary="Is this username free?", tags=("auth",)),
    R("POST", "/api/v1/auth/login", "auth.login", auth.login, auth="public", body=auth.LOGIN_BODY, status=200,
      summary="Exchange a username and password for an access token", tags=("auth",)),
    R("POST", "/api/v1/auth/logout", "auth.logout", auth.logout, auth="user", status=204,
      summary="Revoke the access token in use", tags=("auth",)),
    R("GET", "/api/v1/auth/me", "auth.me", auth.me, auth="user",
      summary="The signed-in user with their projects and roles", tags=("auth",)),
    # ---- projects and members ----------------------------------------------------------------
    R("GET", "/api/v1/projects", "projects.list", projects.list_projects, auth="user",
      summary="Projects the caller belongs to", tags=("projects",)),
    R("POST", "/api/v1/projects", "projects.create", projects.create, auth="user", body=projects.CREATE_BODY,
      summary="Create a project; the caller becomes its admin", tags=("projects",)),
    R("GET", "/api/v1/projects/{project_id:uuid}", "projects.get", projects.get, auth="user",
      summary="A project with its members", tags=("projects",)),
    R("DELETE", "/api/v1/projects/{project_id:uuid}", "projects.delete", projects.delete, auth="user",
      summary="Delete a (non-personal) project", tags=("projects",)),
    R("GET", "/api/v1/projects/{project_id:uuid}/members", "projects.members", projects.list_members,
      auth="user", summary="Members and their roles", tags=("projects",)),
    R("POST", "/api/v1/projects/{project_id:uuid}/members", "projects.add_member", projects.add_member,
      auth="user", body=projects.MEMBER_BODY, summary="Add a member with a role", tags=("projects",)),
    R("PATCH", "/api/v1/projects/{project_id:uuid}/members/{user_id:uuid}", "projects.change_member",
      projects.change_member, auth="user", body=projects.ROLE_BODY, summary="Change a member's role",
      tags=("projects",)),
    R("DELETE", "/api/v1/projects/{project_id:uuid}/members/{user_id:uuid}", "projects.remove_member",
      projects.remove_member, auth="user", summary="Remove a member", tags=("projects",)),
    # ---- API keys -----------------------------------------------------------------------------
    R("GET", "/api/v1/api-keys", "api_keys.list", api_keys.list_keys, auth="user",
      summary="The caller's live API keys (without secrets)", tags=("api-keys",)),
    R("POST", "/api/v1/api-keys", "api_keys.create", api_keys.create, auth="user", body=api_keys.CREATE_BODY,
      summary="Create an API key; the secret is shown only in this answer", tags=("api-keys",)),
    R("DELETE", "/api/v1/api-keys/{key_id:uuid}", "api_keys.delete", api_keys.delete, auth="user",
      summary="Revoke an API key", tags=("api-keys",)),
    # ---- audit and operations ----------------------------------------------------------------
    R("GET", "/api/v1/audit", "audit.list", audit.list_entries, query=audit.QUERY,
      summary="Audit entries, newest first (project admins; global admins with all_projects)", tags=("audit",)),
    R("GET", "/api/v1/operations/{operation_id:uuid}", "operations.get", operations.get, auth="user",
      summary="The state of a slow operation", tags=("operations",)),
    # ---- mini PCs (UC-02): templates, key pairs, images, hosts, quotas, instances --------------
    R("GET", "/api/v1/templates", "templates.list", templates.list_templates, auth="user",
      summary="Mini PC templates (administrators also see disabled ones)", tags=("templates",)),
    R("POST", "/api/v1/templates", "templates.create", templates.create, auth="admin", body=templates.CREATE_BODY,
      summary="Add a template", tags=("templates",)),
    R("PATCH", "/api/v1/templates/{template_id:uuid}", "templates.update", templates.update, auth="admin",
      body=templates.UPDATE_BODY, summary="Change or disable (enabled=false) a template", tags=("templates",)),
    R("GET", "/api/v1/keypairs", "keypairs.list", keypairs.list_keypairs,
      summary="The project's SSH key pairs (public keys)", tags=("keypairs",)),
    R("POST", "/api/v1/keypairs", "keypairs.create", keypairs.create, body=keypairs.CREATE_BODY,
      summary="Import a public key, or generate a pair (the private key is shown only in this answer)",
      tags=("keypairs",)),
    R("DELETE", "/api/v1/keypairs/{keypair_id:uuid}", "keypairs.delete", keypairs.delete,
      summary="Delete a key pair", tags=("keypairs",)),
    R("GET", "/api/v1/images", "images.list", images.list_images, auth="user",
      summary="Images to boot mini PCs from", tags=("images",)),
    R("POST", "/api/v1/images", "images.create", images.create, auth="admin", body=images.CREATE_BODY,
      summary="Register an image from files on the server", tags=("images",)),
    R("PATCH", "/api/v1/images/{image_id:uuid}", "images.update", images.update, auth="admin",
      body=images.UPDATE_BODY, summary="Change or disable an image", tags=("images",)),
    R("GET", "/api/v1/hosts", "hosts.list", hosts.list_hosts, auth="admin",
      summary="Hypervisor hosts with what their mini PCs take", tags=("hosts",)),
    R("POST", "/api/v1/hosts", "hosts.create", hosts.create, auth="admin", body=hosts.CREATE_BODY,
      summary="Add a host by its libvirt URI", tags=("hosts",)),
    R("PATCH", "/api/v1/hosts/{host_id:uuid}", "hosts.update", hosts.update, auth="admin", body=hosts.UPDATE_BODY,
      summary="Rename, re-point or disable a host", tags=("hosts",)),
    R("GET", "/api/v1/quotas", "quotas.get", quotas.show,
      summary="The project's limits and what its mini PCs use", tags=("quotas",)),
    R("PATCH", "/api/v1/quotas", "quotas.update", quotas.update, auth="admin", body=quotas.UPDATE_BODY,
      summary="Set a project's limits", tags=("quotas",)),
    R("POST", "/api/v1/instances", "instances.create", instances.create, body=instances.CREATE_BODY, status=202,
      summary="Rent a mini PC: answers 202 with state pending; a job builds it", tags=("instances",)),
    R("GET", "/api/v1/instances", "instances.list", instances.list_instances, query=instances.LIST_QUERY,
      summary="The project's mini PCs, newest first", tags=("instances",)),
    R("GET", "/api/v1/instances/{instance_id:uuid}", "instances.get", instances.get,
      summary="A mini PC: state, specs, host, addresses, how to connect, what was built", tags=("instances",)),
    R("PATCH", "/api/v1/instances/{instance_id:uuid}", "instances.rename", instances.rename,
      body=instances.RENAME_BODY, summary="Rename a mini PC", tags=("instances",)),
    R("POST", "/api/v1/instances/{instance_id:uuid}/start", "instances.start", instances.start, status=202,
      summary="Start a stopped mini PC", tags=("instances",)),
    R("POST", "/api/v1/instances/{instance_id:uuid}/stop", "instances.stop", instances.stop, status=202,
      summary="Shut a running mini PC down (forced off after the timeout)", tags=("instances",)),
    R("POST", "/api/v1/instances/{instance_id:uuid}/reboot", "instances.reboot", instances.reboot, status=202,
      summary="Restart a running mini PC", tags=("instances",)),
    R("POST", "/api/v1/instances/{instance_id:uuid}/resize", "instances.resize", instances.resize,
      body=instances.RESIZE_BODY, status=202, summary="Give a stopped mini PC another template's vCPUs and RAM",
      tags=("instances",)),
    R("GET", "/api/v1/instances/{instance_id:uuid}/console", "instances.console", instances.console,
      query=instances.CONSOLE_QUERY, summary="The tail of a mini PC's serial console output", tags=("instances",)),
    R("POST", "/api/v1/instances/{instance_id:uuid}/console", "instances.console_input", instances.console_input,
      body=instances.CONSOLE_BODY, status=204, summary="Type on a running mini PC's serial console",
      tags=("instances",)),
    R("DELETE", "/api/v1/instances/{instance_id:uuid}", "instances.delete", instances.delete, status=202,
      summary="Delete a mini PC: answers 202 with state deleting", tags=("instances",)),
    # ---- console pages ------------------------------------------------------------------------
    R("GET", "/", "pages.home", dashboard.home, auth="public", api=False),
    R("GET", "/login", "pages.login_form", auth_page.login_form, auth="public", api=False),
    R("POST", "/login", "pages.login", auth_page.login, auth="public", api=False),
    R("GET", "/signup", "pages.signup_form", auth_page.signup_form, auth="public", api=False),
    R("POST", "/signup", "pages.signup", auth_page.signup, auth="public", api=False),
    R("POST", "/logout", "pages.logout", auth_page.logout, auth="user", api=False),
    R("GET", "/dashboard", "pages.dashboard", dashboard.dashboard, api=False),
    R("GET", "/mini-pcs", "pages.instances", instances_page.index, api=False),
    R("GET", "/mini-pcs/new", "pages.instance_new", instances_page.new, role="user", api=False),
    R("POST", "/mini-pcs", "pages.instance_create", instances_page.create, api=False),
    R("GET", "/mini-pcs/{instance_id:uuid}", "pages.instance", instances_page.detail, api=False),
    R("POST", "/mini-pcs/{instance_id:uuid}/action", "pages.instance_action", instances_page.act, api=False),
    R("POST", "/mini-pcs/{instance_id:uuid}/console", "pages.instance_console", instances_page.console_input,
      api=False, audit=False),
    R("GET", "/networks", "pages.networks", sections.networks, api=False),
    R("GET", "/apps", "pages.apps", sections.apps, api=False),
    R("GET", "/storage", "pages.storage", sections.storage, api=False),
    R("GET", "/audit", "pages.audit", audit_page.audit, role="admin", api=False),
    R("GET", "/admin", "pages.admin", admin_page.admin, auth="admin", api=False),
    R("POST", "/project", "pages.switch_project", projects_page.switch, auth="user", api=False),
    R("GET", "/language/{lang:name}", "pages.language", language.switch, auth="public", api=False),
    R("GET", "/docs", "pages.docs", docs.docs, auth="public", api=False),
    R("GET", "/static/{file:path}", "pages.static", static.serve, auth="public", api=False),
]
