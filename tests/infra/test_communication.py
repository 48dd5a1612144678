"""The app's role on Communication Services sends SMS and manages numbers but cannot read or regenerate the
access keys (issue 17.10): ACS documents only Contributor, which includes listKeys."""

from __future__ import annotations

from bicep_eval import Template, parse_file
from infra_paths import MODULES

COMMUNICATION = MODULES / "communication.bicep"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
KEY_ACTIONS = {
    "Microsoft.Communication/CommunicationServices/ListKeys/action",
    "Microsoft.Communication/CommunicationServices/RegenerateKey/action",
}


def _template() -> Template:
    return Template(COMMUNICATION, {"name": "acs-x", "principalId": "p"})


def test_the_app_role_excludes_the_key_actions_and_role_management() -> None:
    role = _template().evaluate(parse_file(COMMUNICATION)["resources"]["senderRole"]["config"]["properties"], {})
    [permission] = role["permissions"]
    assert permission["actions"] == ["Microsoft.Communication/*"]
    assert set(permission["notActions"]) >= KEY_ACTIONS
    assert not any(action.startswith(("*", "Microsoft.Authorization")) for action in permission["actions"])
    assert len(role["assignableScopes"]) == 1


def test_the_assignment_is_the_custom_role_on_the_resource_not_contributor() -> None:
    tree = parse_file(COMMUNICATION)
    assert CONTRIBUTOR not in repr(tree)
    assignment = tree["resources"]["sender"]["config"]
    assert assignment["scope"] == "communication"
    assert "senderRole" in repr(assignment["properties"]["roleDefinitionId"])
