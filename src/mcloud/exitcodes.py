"""What mcloud's exit status means: scripts can tell a refusal from an outage or a timeout."""
from __future__ import annotations

OK = 0
API_REFUSED = 1      # the API answered another 4xx, or an operation waited for ended failed
USAGE = 2            # a bad command line (click's own status for usage errors)
NOT_LOGGED_IN = 3    # no login for the profile, or the API answered 401 / 403
NOT_FOUND = 4        # 404, or no resource of that name
CONFLICT = 5         # 409: the resource's state forbids it, or the name is taken
UNAVAILABLE = 6      # 502 / 503 / 5xx, or the server cannot be reached
TIMED_OUT = 7        # --wait gave up before the operation finished

# The --help epilog, in both languages (typer prints it as written; the table lines stay intact).
EPILOG = {
    "en": ("Exit codes: 0 ok · 1 the API refused (4xx) or the operation failed · 2 usage error · "
           "3 not logged in / 401 / 403 · 4 not found · 5 conflict (409) · 6 server or backend unavailable "
           "(503, unreachable) · 7 timed out waiting"),
    "ko": ("종료 코드: 0 성공 · 1 API가 거절함(4xx) 또는 작업 실패 · 2 잘못된 사용법 · 3 로그인 필요 / 401 / 403 · "
           "4 찾을 수 없음 · 5 충돌(409) · 6 서버나 백엔드를 쓸 수 없음(503, 연결 불가) · 7 기다리다 시간 초과"),
}


def for_status(status: int) -> int:
    """The exit status for an HTTP error status."""
    if status in (401, 403):
        return NOT_LOGGED_IN
    if status == 404:
        return NOT_FOUND
    if status == 409:
        return CONFLICT
    if status >= 500:
        return UNAVAILABLE
    return API_REFUSED
