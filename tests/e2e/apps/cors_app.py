"""An API behind app-level CORSMiddleware, served by Granian in tests/e2e/test_cors.py."""

from gobstopper import Gobstopper
from gobstopper.middleware.cors import CORSMiddleware

ORIGIN = "https://app.example.com"

app = Gobstopper(__name__)
app.add_middleware(
    CORSMiddleware(
        origins=[ORIGIN], headers=["Content-Type", "X-Token"], allow_credentials=True, max_age=600
    )
)


@app.post("/api/echo")
async def echo(request):
    return {"got": await request.get_json(), "token": request.headers.get("x-token")}
