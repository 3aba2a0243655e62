"""Stage `explain`: LIME explanations of the configured test documents for every approach."""

import logging

from pipeline import CLASS_NAMES, cli, paths
from pipeline.checkpoint import load_checkpoint
from pipeline.corpus import read_corpus
from pipeline.explain import explain_document, explanation_record, write_explanation
from pipeline.inference import predict_texts
from pipeline.model import default_context
from pipeline.params import ParamsError
from pipeline.vocab import load_vocab

log = logging.getLogger(__name__)


def main(args, params) -> None:
    opts = params["explain"]
    test = read_corpus(paths.RAW / "test.csv")
    for i, index in enumerate(opts["doc_indices"]):
        if index >= len(test):
            raise ParamsError(f"params.yaml: explain.doc_indices[{i}] = {index}: the test split has "
                              f"only {len(test)} rows (valid indices 0..{len(test) - 1})")
    vocab = load_vocab(paths.VOCAB)
    ctx = default_context()
    for name in params["approaches"]:
        net, spec = load_checkpoint(paths.model_dir(name), len(vocab), ctx)
        prep = spec["preprocessing"]

        def predict_proba(texts, net=net, prep=prep):
            return predict_texts(net, texts, vocab, prep["lowercase"], prep["max_tokens"], ctx,
                                 opts["batch_size"])

        for index in opts["doc_indices"]:
            log.info("explaining test document %d with %s", index, name)
            text = test.texts[index]
            explanation = explain_document(text, predict_proba, CLASS_NAMES, opts["num_features"],
                                           opts["num_samples"], params["seed"])
            record = explanation_record(explanation, text, index, int(test.labels[index]), CLASS_NAMES)
            stem = f"{name}_doc{index}"
            write_explanation(explanation, record, paths.EXPLAIN_HTML / f"{stem}.html",
                              paths.PLOTS / "explain" / f"{stem}.png",
                              paths.REPORTS / "explain" / f"{stem}.json", title=f"{name}, test document {index}")


if __name__ == "__main__":
    cli.run(main, cli.parser(__doc__).parse_args())
