"""Domain-named queries over incidents."""

from django.db import models
from django.db.models import Q

from incidents.choices import OPEN_STATES, Queue
from itsm import roles


class IncidentQuerySet(models.QuerySet):
    def open(self) -> "IncidentQuerySet":
        return self.filter(state__in=OPEN_STATES)

    def for_agent(self, user) -> "IncidentQuerySet":
        """'My work': open incidents assigned to the user, and their groups' unassigned ones."""
        group_ids = roles.group_ids(user)
        return self.open().filter(Q(assignee=user) | Q(assignee__isnull=True, assignment_group_id__in=group_ids))

    def in_queue(self, queue: str, user) -> "IncidentQuerySet":
        """One of the `Queue` views of `user` (console filter and API `queue` alike); unknown: unfiltered."""
        if queue == Queue.MY_WORK:
            return self.for_agent(user)
        if queue == Queue.MINE:
            return self.filter(assignee=user)
        if queue == Queue.MY_GROUPS:
            return self.in_groups_of(user)
        if queue == Queue.UNASSIGNED:
            return self.filter(assignee__isnull=True)
        return self

    def in_groups_of(self, user) -> "IncidentQuerySet":
        return self.filter(assignment_group_id__in=roles.group_ids(user))
