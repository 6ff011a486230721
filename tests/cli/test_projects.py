"""mcloud project … (use, members, delete --wait), quota and audit: acting in another project."""
from __future__ import annotations

import re
import uuid


def test_projects_members_use_and_delete(signed_in):
    cli = signed_in
    friend = "f" + uuid.uuid4().hex[:10]
    cli.signup(friend, "Friend Lee")

    made = cli("project", "create", "team-cli", "--description", "group work")
    assert made.exit_code == 0 and "Created project team-cli." in made.stdout
    renamed = cli("project", "rename", "team-cli", "team-cli-2")
    assert renamed.exit_code == 0 and "Renamed project team-cli to team-cli-2." in renamed.stdout, renamed.output
    assert cli("project", "rename", "team-cli-2", "team-cli").exit_code == 0
    listed = cli("project", "list")
    assert re.search(r"\*\s+" + cli.username, listed.stdout), listed.stdout   # acting: the personal project
    assert re.search(r"team-cli\s+admin", listed.stdout)

    added = cli("project", "member", "add", friend, "--role", "viewer", "--of", "team-cli")
    assert added.exit_code == 0 and f"Added {friend} as viewer." in added.stdout
    assert cli("project", "member", "set-role", friend, "user", "--of", "team-cli").exit_code == 0
    members = cli("project", "member", "list", "--of", "team-cli")
    assert re.search(rf"{friend}\s+Friend Lee\s+user", members.stdout), members.stdout

    # --project acts elsewhere for one call; project use for the following ones
    assert cli("--project", "team-cli", "bucket", "list").exit_code == 0
    used = cli("project", "use", "team-cli")
    assert used.exit_code == 0 and "Commands now act in project team-cli." in used.stdout
    assert re.search(r"\*\s+team-cli", cli("project", "list").stdout)
    quota = cli("quota")
    assert quota.exit_code == 0 and re.search(r"mini PCs\s+0\s+\d+", quota.stdout), quota.stdout
    assert cli.json("quota")["project_id"] == cli.json("project", "show")["id"]
    audit = cli("audit", "--action", "projects.add_member")
    assert audit.exit_code == 0 and re.search(rf"{cli.username}\s+projects.add_member", audit.stdout), audit.stdout

    removed = cli("project", "member", "remove", friend)
    assert removed.exit_code == 0 and f"Removed {friend}." in removed.stdout

    wrong = cli("project", "delete", "team-cli", input="team\n")
    assert wrong.exit_code == 1 and "nothing was deleted" in wrong.stderr
    deleted = cli("project", "delete", "team-cli", "--wait", "--timeout", "60", input="team-cli\n")
    assert deleted.exit_code == 0, deleted.output
    assert "Deleted project team-cli." in deleted.stdout
    assert "team-cli" not in [p["name"] for p in cli.json("project", "list")]
    assert re.search(r"\*\s+" + cli.username, cli("project", "list").stdout)   # back to the personal one


def test_a_viewer_is_refused_in_korean(signed_in):
    cli = signed_in
    owner = cli.username
    cli.json("project", "create", "shared-cli")
    viewer = "v" + uuid.uuid4().hex[:10]
    cli.signup(viewer)
    cli("project", "member", "add", viewer, "--role", "viewer", "--of", "shared-cli")
    cli.login(viewer)
    cli.lang = "ko"
    refused = cli("--project", "shared-cli", "bucket", "create", "nope")
    assert refused.exit_code == 3 and refused.stderr.startswith("오류:"), refused.output
    assert cli("--project", "shared-cli", "audit").exit_code == 3
    assert owner != viewer
