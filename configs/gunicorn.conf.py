# gunicorn settings minicloud is served with (make run, `minicloud serve`, the tests' servers).
# Command-line options (--bind, --workers ...) add to these.

# The longest request line gunicorn reads (its maximum; the default is 4094). Every valid request
# fits: an object key of 1024 UTF-8 bytes is at most 3072 characters percent-encoded, a listing's
# prefix the same, a cursor at most 512. A longer line is answered 414 by gunicorn itself, as the
# API document says.
limit_request_line = 8190
