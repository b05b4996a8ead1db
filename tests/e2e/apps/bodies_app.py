"""Every body-reading API, as the reference's examples write them.

Served by Granian in tests/e2e/test_bodies.py and driven in-process by
tests/http/test_body_examples.py.
"""

from __future__ import annotations

import hashlib
import os

import msgspec

from gobstopper import Blueprint, Gobstopper, Request
from gobstopper.http.errors import BodyValidationError, RequestTooLarge, UnsupportedMediaType
from gobstopper.middleware import LimitsMiddleware

app = Gobstopper(__name__)


class User(msgspec.Struct):
    name: str
    email: str
    age: int


class LoginForm(msgspec.Struct):
    username: str
    password: str


class ContactForm(msgspec.Struct):
    name: str
    email: str
    message: str


class Address(msgspec.Struct):
    city: str


class Order(msgspec.Struct):
    item: str
    quantity: int
    tags: list[str] = []
    ship_to: Address | None = None


@app.get("/")
async def index(request: Request):
    return {"ok": True, "pid": os.getpid()}


# -- raw bodies (get_data) ---------------------------------------------------------
@app.post("/upload/raw")
async def upload_raw(request: Request):
    body = await request.get_data()
    size = len(body)
    return {"received_bytes": size}


@app.post("/upload", middleware=[LimitsMiddleware(max_body_bytes=1024)])
async def upload(request: Request):
    try:
        data = await request.get_data()
        return {"size": len(data)}
    except RequestTooLarge:
        return {"error": "File too large"}, 413


@app.post("/upload/small", middleware=[LimitsMiddleware(max_body_bytes=1024)])
async def upload_small(request: Request):
    return {"size": len(await request.get_body())}


# -- JSON ------------------------------------------------------------------------------
@app.post("/api/data")
async def handle_data(request: Request):
    try:
        data = await request.get_json()
        return {"received": data}
    except msgspec.DecodeError:
        return {"error": "Invalid JSON"}, 400


@app.post("/json")
async def json_any(request: Request):
    data = await request.json()
    return {"received": data}


@app.post("/json/shallow", middleware=[LimitsMiddleware(max_json_depth=3)])
async def json_shallow(request: Request):
    return {"received": await request.get_json()}


@app.post("/api/users")
async def create_user(request: Request):
    try:
        user = await request.json(model=User)
        return {"created": user.name, "email": user.email}
    except BodyValidationError as e:
        return {"error": str(e)}, 400


@app.post("/api/users/unhandled")
async def create_user_unhandled(request: Request):
    user = await request.json(model=User)
    return {"created": user.name}


@app.post("/api/optional")
async def optional_data(request: Request):
    data = await request.json()
    if data is None:
        return {"message": "No data provided"}
    return {"data": data}


@app.post("/api/strict")
async def strict_json(request: Request):
    try:
        data = await request.json()
        return {"data": data}
    except UnsupportedMediaType:
        return {"error": "Content-Type must be application/json"}, 415


# -- typed body parameters ------------------------------------------------------------
@app.post("/orders")
async def create_order(request: Request, order: Order):
    return {
        "item": order.item,
        "quantity": order.quantity,
        "tags": order.tags,
        "city": order.ship_to.city if order.ship_to else None,
    }


@app.post("/orders/optional")
async def maybe_order(request: Request, order: Order | None = None):
    return {"order": order}


@app.post("/orders/sync/<int:shop>")
def create_order_sync(request: Request, shop: int, order: Order):
    return {"shop": shop, "item": order.item}


# -- forms -------------------------------------------------------------------------------
@app.post("/submit")
async def submit_form(request: Request):
    form = await request.form()
    name = form.get("name", [""])[0]
    email = form.get("email", [""])[0]
    return {"name": name, "email": email}


@app.post("/preferences")
async def preferences(request: Request):
    form = await request.form()
    hobbies = form.get("hobbies", [])
    return {"hobbies": hobbies}


@app.post("/login")
async def login(request: Request):
    try:
        creds = await request.form(model=LoginForm)
        return {"username": creds.username}
    except BodyValidationError:
        return {"error": "Invalid form data"}, 400


@app.post("/form/strict")
async def strict_form(request: Request):
    try:
        await request.form()
        return {"received": True}
    except UnsupportedMediaType:
        return {"error": "Content-Type must be application/x-www-form-urlencoded"}, 415


@app.post("/form/any")
async def any_form(request: Request):
    form = await request.get_form()
    return {"form": form}


@app.post("/process")
async def process(request: Request):
    if request.is_json:
        data = await request.get_json()
    elif "form" in request.headers.get("content-type", ""):
        data = await request.get_form()
    else:
        return {"error": "Unsupported content type"}, 415
    return {"received": True, "data": data}


# -- multipart text fields --------------------------------------------------------------
@app.post("/form/multipart")
async def handle_multipart(request: Request):
    fields = await request.multipart()
    name = fields.get("name", [""])[0]
    email = fields.get("email", [""])[0]
    return {"name": name, "email": email}


@app.post("/upload/limited")
async def limited_upload(request: Request):
    try:
        # Limit to 1MB
        await request.multipart(max_size=1024 * 1024)
        return {"status": "success"}
    except BodyValidationError as e:
        return {"error": str(e)}, 413


@app.post("/contact")
async def contact(request: Request):
    try:
        form = await request.multipart(model=ContactForm)
        return {"received": form.name}
    except BodyValidationError:
        return {"error": "Invalid form data"}, 400


# -- uploads -------------------------------------------------------------------------------
@app.post("/upload/avatar")
async def upload_avatar(request: Request):
    files = await request.get_files()
    avatar = files.get("avatar")
    if avatar and avatar.filename:
        avatar.save(f"uploads/{avatar.filename}")
        return {"uploaded": avatar.filename}
    return {"error": "No file uploaded"}, 400


@app.post("/upload-multiple")
async def upload_multiple(request: Request):
    files = await request.get_files()
    uploaded = []
    for _field_name, file in files.items():
        if file.filename:
            file.save(f"uploads/{file.filename}")
            uploaded.append(file.filename)
    return {"uploaded": uploaded}


@app.post("/profile")
async def update_profile(request: Request):
    body = await request.get_data()
    content_type = request.headers.get("content-type", "")
    from gobstopper.http.multipart import parse_multipart

    form, files = parse_multipart(body, content_type)
    name = form.get("name", [""])[0]
    avatar = files.get("avatar")
    if avatar:
        avatar.save(f"uploads/{name}_avatar.jpg")
    return {"name": name, "avatar": bool(avatar)}


@app.post("/upload/property")
async def upload_property(request: Request):
    files = await request.files
    avatar = files.get("avatar")
    if avatar:
        avatar.save("uploads/avatar.jpg")
        return {"uploaded": True}
    return {"uploaded": False}


@app.post("/upload/info")
async def upload_info(request: Request):
    form = await request.get_form()
    files = await request.get_files()
    return {
        "form": form,
        "files": {
            name: {
                "filename": f.filename,
                "raw_filename": f.raw_filename,
                "size": f.size,
                "content_type": f.content_type,
                "in_memory": f.in_memory,
                "sha256": hashlib.sha256(f.read()).hexdigest(),
            }
            for name, f in files.items()
        },
    }


@app.post("/upload/big", middleware=[LimitsMiddleware(max_body_bytes=300 * 1024 * 1024)])
async def upload_big(request: Request):
    files = await request.get_files()
    digest = {}
    for name, f in files.items():
        h = hashlib.sha256()
        for block in iter(lambda f=f: f.read(1 << 20), b""):
            h.update(block)
        digest[name] = {"size": f.size, "in_memory": f.in_memory, "sha256": h.hexdigest()}
    return digest


# -- limits per blueprint -----------------------------------------------------------------
strict = Blueprint("strict", url_prefix="/strict")
strict.add_middleware(
    LimitsMiddleware(max_body_bytes=4096, max_form_fields=5, max_files=1, max_file_bytes=1000)
)


@strict.post("/form")
async def strict_form_bp(request: Request):
    return {"form": await request.get_form()}


@strict.post("/files")
async def strict_files_bp(request: Request):
    files = await request.get_files()
    return {"files": sorted(files)}


@strict.post("/json", middleware=[LimitsMiddleware(max_json_depth=2)])
async def strict_json_bp(request: Request):
    return {"received": await request.get_json(), "limit": request.max_body_bytes}


app.register_blueprint(strict)
