"""Campaigns with a shop as product source (R18): ``create-campaign``, ``campaigns``."""

from __future__ import annotations

import click

from cli.context import Context, command
from cli.params import DB_ID, DISPLAY_NAME


@click.command("create-campaign")
@click.option("--ad-account", "ad_account_id", type=DB_ID, required=True)
@click.option("--shop-code", required=True, help="The shop used as product source.")
@click.option("--name", type=DISPLAY_NAME, required=True)
@click.option("--as", "as_email", required=True)
@command
def create_campaign(
    ctx: Context, ad_account_id: int, shop_code: str, name: str, as_email: str
) -> None:
    """Create a Product Sales campaign with a shop as product source (R18)."""
    view = ctx.partners().create_campaign(
        ad_account_id=ad_account_id, shop_code=shop_code, name=name, by=as_email
    )
    ctx.emit(
        view.model_dump(mode="json"),
        f"Campaign {view.campaign_id} ({view.name}) is {view.status.value}.",
    )


@click.command()
@click.option("--bc", "bc_id", type=DB_ID, help="Campaigns of a Business Center's ad accounts.")
@click.option("--shop-code", help="Campaigns using a shop as product source.")
@command
def campaigns(ctx: Context, bc_id: int | None, shop_code: str | None) -> None:
    """List campaigns of a BC (--bc) or of a shop (--shop-code) (R18)."""
    views = ctx.partners().campaigns(bc_id=bc_id, shop_code=shop_code)
    human = (
        "\n".join(
            f"{v.campaign_id:>6}  {v.status.value:<10} ad account {v.ad_account_id}  "
            f"{v.shop_code}  {v.name}"
            for v in views
        )
        or "No campaigns."
    )
    ctx.emit({"campaigns": [v.model_dump(mode="json") for v in views]}, human)


COMMANDS = [create_campaign, campaigns]
