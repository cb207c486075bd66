"""``api-token create|list|revoke``: tokens for the ops HTTP API (R26, docs/api.md).
The secret is printed once, at creation; the store keeps only its hash."""

from __future__ import annotations

import click

from cli.context import Context, command
from models.tables import ApiToken
from store import api_tokens
from store.api_tokens import Scope
from store.db import read_session, write_session


def _public(token: ApiToken) -> dict[str, object]:
    return {
        "id": token.id,
        "name": token.name,
        "scopes": sorted(api_tokens.scopes_of(token)),
        "created_at": token.created_at.isoformat(),
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
    }


def _line(token: ApiToken) -> str:
    used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
    line = f"{token.id}  {token.name}  {','.join(sorted(api_tokens.scopes_of(token)))}"
    return line + f"  last used {used}" + ("  (revoked)" if token.revoked_at else "")


@click.group("api-token")
def api_token() -> None:
    """Tokens for the ops HTTP API at /api/v1: read, or read and act (docs/api.md)."""


@api_token.command("create")
@click.option("--name", required=True, help="Who or what uses it (e.g. 'agency CRM').")
@click.option(
    "--scope",
    "scopes",
    type=click.Choice([s.value for s in Scope]),
    multiple=True,
    default=[Scope.READ.value],
    show_default=True,
    help="read: read only; act: also change things (implies read). Repeatable.",
)
@command
def create(ctx: Context, name: str, scopes: tuple[str, ...]) -> None:
    """Make a token; prints its secret once (send it as 'Authorization: Bearer ...')."""
    with write_session(ctx.engine) as session:
        token, secret = api_tokens.create_token(
            session, name=name, scopes={Scope(s) for s in scopes}
        )
    ctx.emit(
        {**_public(token), "token": secret},
        f"Created {token.id} ({', '.join(sorted(api_tokens.scopes_of(token)))}).\n"
        f"Token (shown once, keep it secret): {secret}",
    )


@api_token.command("list")
@command
def list_cmd(ctx: Context) -> None:
    """Every token with its scopes and last use (never the secret)."""
    with read_session(ctx.engine) as session:
        found = api_tokens.tokens(session)
    human = "\n".join(_line(t) for t in found)
    ctx.emit({"tokens": [_public(t) for t in found]}, human or "No API tokens.")


@api_token.command("revoke")
@click.argument("token_id")
@command
def revoke(ctx: Context, token_id: str) -> None:
    """End a token at once; calls with it are refused from now on."""
    with write_session(ctx.engine) as session:
        token = api_tokens.revoke_token(session, token_id)
    ctx.emit(_public(token), f"Revoked {token.id}.")


COMMANDS = [api_token]
