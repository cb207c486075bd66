"""Activity results that used to be bare ints read both shapes.

Replay decodes a recorded result with the activity's declared return type, through the
same pydantic data converter as every client. A history recorded before the result model
holds the bare number; one recorded after holds the model. tests/test_replay.py proves the
first over the committed histories; this pins both shapes for each model.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from temporalio.contrib.pydantic import pydantic_data_converter

from models.partner_messages import CountResult, PartnerEmailsSent, RemovalFinished


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (PartnerEmailsSent, PartnerEmailsSent(sent=3)),
        (RemovalFinished, RemovalFinished(campaigns_stopped=3)),
    ],
)
async def test_a_recorded_bare_int_and_a_recorded_model_decode_alike(
    model: type[CountResult], expected: CountResult
) -> None:
    old = await pydantic_data_converter.encode([3])
    new = await pydantic_data_converter.encode([expected])
    assert await pydantic_data_converter.decode(old, [model]) == [expected]
    assert await pydantic_data_converter.decode(new, [model]) == [expected]


@pytest.mark.parametrize("value", [True, "3", 2.5, None])
def test_only_a_bare_int_is_read_as_the_count(value: object) -> None:
    with pytest.raises(ValidationError):
        RemovalFinished.model_validate(value)
