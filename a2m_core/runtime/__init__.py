"""Running a trained model: the audio -> motion pipeline the ROS nodes and the CLI call, and its backends."""
