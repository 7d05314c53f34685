"""The base of our pydantic models: each builds its validator and serializer when first used, not when its
module is imported. A function uses a few of the models its modules define (events.py alone has every
function's triggers); building all of them at import was a third of a cold start."""

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
