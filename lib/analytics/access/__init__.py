"""Who is asking and what they may open: the users file, report permissions, and the user inside a run."""

from .identity import ADMIN_GROUP, Person, current_user, user_folder
from .rules import allowed_groups, may_open
from .users import UserError, UsersFile

__all__ = ["ADMIN_GROUP", "Person", "UserError", "UsersFile", "allowed_groups", "current_user", "may_open", "user_folder"]
