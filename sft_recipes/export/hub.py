"""Push an export folder to the Hugging Face Hub with ``huggingface_hub``.

Problems that can be known before any work (no token, offline mode, a malformed repo id) are reported before the
export is built; a failed upload becomes one line naming the repository and the server's answer.
"""

from __future__ import annotations

from pathlib import Path

from sft_recipes import first_line
from sft_recipes.export.errors import HubPushError


def check_can_push(repo_id: str, token: str | None = None) -> str:
    """The token to push with; raise HubPushError now if pushing cannot work."""
    from huggingface_hub import constants, get_token
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if repo_id.count("/") != 1:
        raise HubPushError(f"--push_to_hub expects ORG/NAME (or USER/NAME), got {repo_id!r}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise HubPushError(f"invalid Hub repository id {repo_id!r}: {first_line(e)}") from None
    if constants.HF_HUB_OFFLINE:
        raise HubPushError("cannot push to the Hub: offline mode is on (unset HF_HUB_OFFLINE)")
    token = token or get_token()
    if not token:
        raise HubPushError("no Hugging Face token: run `hf auth login` or set HF_TOKEN, then push again")
    return token


def push_folder(
    folder: str | Path,
    repo_id: str,
    *,
    token: str,
    private: bool = False,
    commit_message: str | None = None,
    endpoint: str | None = None,
) -> str:
    """Create the model repo if needed and upload every file of ``folder`` in one commit; return the commit URL.

    ``endpoint`` defaults to huggingface_hub's own (``HF_ENDPOINT`` or huggingface.co).
    """
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(
            repo_id=repo_id,
            repo_type="model",
            folder_path=str(folder),
            commit_message=commit_message or "Upload model exported with sft-recipes",
        )
    except Exception as e:  # HTTP errors, refused connections, rejected metadata: all end the push the same way
        said = getattr(e, "server_message", None)
        detail = f" (server: {first_line(said)})" if said else ""
        raise HubPushError(f"push to {repo_id} failed: {first_line(e)}{detail}") from None
    return info.commit_url

