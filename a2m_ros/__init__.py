"""a2m ROS 2 nodes. Never imports rclpy at package import time.

The generated interfaces (`a2m_ros.msg`, `a2m_ros.action`) are installed by rosidl into
another folder of the same package name; extend_path lets both halves import together.
"""

__path__ = __import__("pkgutil").extend_path(__path__, __name__)
