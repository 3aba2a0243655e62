"""Stage `explain`: LIME explanations of the configured test documents for every approach."""

import argparse
import logging

from pipeline import CLASS_NAMES, cli, paths
from pipeline.corpus import read_raw_split
from pipeline.params import Params, ParamsError
from pipeline.tokenize import tokenize

log = logging.getLogger(__name__)


def main(args: argparse.Namespace, params: Params) -> None:
    opts = params.explain
    test = read_raw_split("test")
    for i, index in enumerate(opts.doc_indices):
        if index >= len(test):
            raise ParamsError(f"params.yaml: explain.doc_indices[{i}] = {index}: the test split has "
                              f"only {len(test)} rows (valid indices 0..{len(test) - 1})")
        if not tokenize(test.texts[index], params.vocab.lowercase, params.vocab.stop_words):
            # LIME explains a text by removing its words; a document without any has nothing to explain.
            raise ParamsError(f"params.yaml: explain.doc_indices[{i}] = {index}: test document {index} "
                              f"({test.texts[index][:60]!r}) has no words to explain; choose another index")

    # MXNet and LIME load here, once the cheap checks have passed.
    from pipeline.checkpoint import load_for_approach, load_members
    from pipeline.explain import explain_document, explanation_record, write_explanation
    from pipeline.inference import predict_texts
    from pipeline.model import default_context
    from pipeline.vocab import load_vocab

    vocab = load_vocab(paths.VOCAB)
    ctx = default_context()
    # Every checkpoint is loaded and checked before any explanation is written.
    models = {name: load_for_approach(approach, params, vocab, ctx) for name, approach in params.approaches.items()}
    written: set[str] = set()
    for name, (net, metadata) in models.items():
        prep = metadata["preprocessing"]
        members = load_members(net, metadata, paths.model_dir(name), ctx)  # what evaluate scored

        def predict_proba(texts, members=members, prep=prep):
            return predict_texts(members, texts, vocab, prep, ctx, opts.batch_size)

        for index in opts.doc_indices:
            log.info("explaining test document %d with %s", index, name)
            text = test.texts[index]
            explanation = explain_document(text, predict_proba, CLASS_NAMES, opts.num_features,
                                           opts.num_samples, params.seed)
            record = explanation_record(explanation, text, index, int(test.labels[index]), CLASS_NAMES)
            stem = f"{name}_doc{index}"
            written.add(stem)
            write_explanation(explanation, record, paths.EXPLAIN_HTML / f"{stem}.html",
                              paths.PLOTS / "explain" / f"{stem}.png",
                              paths.REPORTS / "explain" / f"{stem}.json", title=f"{name}, test document {index}")
    remove_others(written)


def remove_others(written: set[str]) -> None:
    """dvc.yaml keeps these folders across runs (``persist``): remove the explanations of approaches or
    documents no longer configured, which this run did not write."""
    for folder, suffix in ((paths.EXPLAIN_HTML, ".html"), (paths.PLOTS / "explain", ".png"),
                           (paths.REPORTS / "explain", ".json")):
        for path in sorted(folder.glob(f"*{suffix}")):
            if path.stem not in written and not path.name.startswith("."):
                log.info("removing %s: no longer configured", path)
                path.unlink()


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__).parse_args())
