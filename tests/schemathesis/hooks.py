# schemathesis hooks for the e2e suite's run (SCHEMATHESIS_HOOKS): the tus write's body,
# application/offset+octet-stream, is bytes like application/octet-stream.
import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
