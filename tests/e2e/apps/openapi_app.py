"""An API that describes itself: the target of Schemathesis and the /docs page test.

Served by Granian in tests/openapi/test_openapi_e2e.py. It uses every fact the
OpenAPI builder reads: converters, a typed body (JSON, form, multipart), return
annotations, explicit responses, blueprint tags, deprecation, CSRF and a mount.
"""

from __future__ import annotations

import datetime
import uuid

import msgspec

from gobstopper import Blueprint, Gobstopper, Request, abort
from gobstopper.middleware import SecurityMiddleware
from gobstopper.openapi import operation

app = Gobstopper("Pet store")


class Pet(msgspec.Struct):
    id: int
    name: str
    tags: list[str] = []


class NewPet(msgspec.Struct):
    name: str
    age: int = 0
    tags: list[str] = []


class Visit(msgspec.Struct):
    pet: uuid.UUID
    day: datetime.date
    weight: float
    note: str


PETS: dict[int, Pet] = {1: Pet(1, "Rex", ["dog"])}

pets = Blueprint("pets", "/pets")


@pets.get("/")
async def list_pets(request: Request) -> list[Pet]:
    """List every pet."""
    return list(PETS.values())


@pets.get("/<int:pet_id>")
@operation(responses={404: "No pet has this id"})
async def get_pet(request: Request, pet_id: int) -> Pet:
    """Fetch one pet.

    Answers 404 when no pet has this id.
    """
    pet = PETS.get(pet_id)
    if pet is None:
        abort(404, "No pet has this id")
    return pet


@pets.post("/")
@operation(responses={201: "Created"})
async def create_pet(request: Request, pet: NewPet) -> Pet:
    """Add a pet (the store keeps at most 100)."""
    created = Pet(len(PETS) + 1, pet.name, pet.tags)
    if len(PETS) < 100:
        PETS[created.id] = created
    return created, 201  # type: ignore[return-value]


@pets.get("/visits/<uuid:pet>/<date:day>/<float:weight>/<path:note>")
async def visit(
    request: Request, pet: uuid.UUID, day: datetime.date, weight: float, note: str
) -> Visit:
    """Echo a visit: every converter's value comes back typed."""
    return Visit(pet, day, weight, note)


@pets.delete("/<int:pet_id>")
@operation(deprecated=True)
async def delete_pet(request: Request, pet_id: int) -> None:
    """Forget a pet (deprecated: pets are forever)."""
    PETS.pop(pet_id, None)


@app.get("/files/<name>.txt")
async def text_file(request: Request, name: str) -> str:
    """A text file by name."""
    return f"file {name}"


web = Blueprint("web", "/web")
web.add_middleware(SecurityMiddleware(secret_key="s" * 32, cookie_secure=False))


@web.post("/notes")
async def add_note(request: Request) -> None:
    """Store a note (a browser form: needs the session's CSRF token)."""


admin = Gobstopper("admin")


@admin.get("/health")
async def health(request: Request) -> dict[str, str]:
    """A mounted app's route."""
    return {"status": "ok"}


app.register_blueprint(pets)
app.register_blueprint(web)
app.mount("/admin", admin)
app.enable_openapi(title="Pet store", version="1.0.0")
