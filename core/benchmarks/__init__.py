"""Developer benchmarks, kept out of the product modules: `cleancut bench` and `cleancut bench --speed`.

Nothing in the engine imports this package; ``cleancut bench`` imports it when it runs (see
``cli.main``), so its heavier imports (scipy, onnxruntime) cost the other commands nothing.

* :mod:`.samples` -- the evaluation sets on disk: which images, their ground truth and hints.
* :mod:`.scoring` -- the error measures against ground truth, per image and summarised.
* :mod:`.runner` -- one tool and setting in its own process (cleancut's or rembg's worker).
* :mod:`.worker` -- what runs inside cleancut's worker process: the engine over a job's images.
* :mod:`.report` -- results.md's tables and the green and white composites.
* :mod:`.command` -- the ``cleancut bench`` command: its options, the licence gate, the loop.
* :mod:`.speed` -- ``cleancut bench --speed``: whole commands timed beside rembg.
"""
