"""What makes examples: the teacher client, task recipes and the corrupter.

Takes plain records and returns plain records; never imports `studio`, so it can run on a worker
without the app. (Filled in by the teacher and corrupter issues.)
"""
