"""build_app(settings, studio): the Gradio Blocks, built inside a function, nothing at import."""

from __future__ import annotations

from pathlib import Path

from studio.ui.common import bind, header_markdown

KEYS_JS = (Path(__file__).with_name("keys.js")).read_text


def build_app(settings, studio):
    """The whole app over one open Studio. Launch it with studio.ui.serve."""
    import gradio as gr

    from studio.ui.corrupt_tab import build_corrupt_tab
    from studio.ui.curate_tab import build_curate_tab
    from studio.ui.data_tab import build_data_tab
    from studio.ui.deploy_tab import build_deploy_tab
    from studio.ui.evaluate_tab import build_evaluate_tab
    from studio.ui.export_tab import build_export_tab
    from studio.ui.generate_tab import build_generate_tab
    from studio.ui.review_tab import build_review_tab
    from studio.ui.train_tab import build_train_tab

    tasks = studio.task_names()
    with gr.Blocks(title="SFT Studio", analytics_enabled=False) as demo:
        gr.HTML("<style>#review-actions button {min-width: 90px !important}</style>")
        with gr.Row(equal_height=True):
            gr.Markdown("## SFT Studio", scale=1)
            task_box = gr.Dropdown(tasks, value=settings.task if settings.task in tasks else None,
                                   label="Task", scale=1, elem_id="task-picker")
        header = gr.Markdown(elem_id="studio-header")
        with gr.Tabs() as tabs:
            with gr.Tab("Data", id="data") as data_tab:
                data = build_data_tab(gr, settings, studio, task_box, header)
            with gr.Tab("Generate", id="generate") as generate_tab:
                generate = build_generate_tab(gr, settings, studio, task_box, header)
            with gr.Tab("Corrupt", id="corrupt") as corrupt_tab:
                corrupt = build_corrupt_tab(gr, settings, studio, task_box, header)
            with gr.Tab("Curate", id="curate") as curate_tab:
                curate = build_curate_tab(gr, settings, studio, task_box, header)
            with gr.Tab("Review", id="review") as review_tab:
                review = build_review_tab(gr, settings, studio, task_box, header)
            with gr.Tab("Export", id="export") as export_tab:
                export = build_export_tab(gr, settings, studio, task_box, header)
            with gr.Tab("Train", id="train") as train_tab:
                train = build_train_tab(gr, settings, studio, task_box, header)
            with gr.Tab("Evaluate", id="evaluate") as evaluate_tab:
                evaluate = build_evaluate_tab(gr, settings, studio, task_box, header)
            with gr.Tab("Deploy", id="deploy") as deploy_tab:
                deploy = build_deploy_tab(gr, settings, studio, task_box, header)

        def wire(handler, *events):
            """Run one (fn, inputs, outputs) handler on each of `events`."""
            fn, inputs, outputs = handler
            for event in events:
                event(fn, inputs, outputs, api_name=False)

        demo.load(None, None, None, js=KEYS_JS())
        wire(data["load"], demo.load, task_box.change, data_tab.select)
        wire(review["restart"], demo.load, task_box.change)
        wire(generate["refresh"], generate_tab.select, task_box.change)
        wire(corrupt["refresh"], corrupt_tab.select, demo.load)
        wire(curate["refresh"], curate_tab.select)
        wire(curate["scores"], curate_tab.select, task_box.change)
        # a point clicked on the map opens in the Review tab
        open_btn, picked = curate["open"]
        show_fn, queue, view_out = review["show"]
        open_btn.click(show_fn, [picked, *queue], view_out, api_name=False).then(
            lambda: gr.Tabs(selected="review"), None, tabs, api_name=False)
        review_tab.select(lambda t: header_markdown(studio, t), task_box, header, api_name=False)
        wire(export["refresh"], export_tab.select, task_box.change)
        wire(train["refresh"], train_tab.select)
        wire(evaluate["refresh"], evaluate_tab.select, task_box.change)
        wire(deploy["refresh"], deploy_tab.select, task_box.change)
        # "how much data": the learning curve's answer opens Generate with that many to make
        more_btn, more_count = evaluate["generate_more"]
        mode, count = generate["mode_count"]
        more_btn.click(lambda n: ("inputs", n, gr.Tabs(selected="generate")), more_count,
                       [mode, count, tabs], api_name=False)
        # a served run becomes the Generate tab's teacher and the Evaluate tab's judge: label new
        # inputs with your own model, then review them
        use_btn, fields_fn, fields_in = deploy["use_as_teacher"]
        use_btn.click(bind(fields_fn), fields_in,
                      [*generate["teacher"], *evaluate["judge"], tabs], api_name=False)
    demo.queue(default_concurrency_limit=8)
    return demo
