"""Amazon S3: buckets, objects (streamed to and from the blob store), versions, multipart uploads."""
