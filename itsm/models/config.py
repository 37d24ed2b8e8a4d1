from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from itsm.choices import Criticality, Impact, Priority, Urgency

from .base import TimeStampedModel


class AssignmentGroup(TimeStampedModel):
    """A resolver team. Agents act on the incidents of the groups they are members of."""

    name = models.CharField(max_length=100, unique=True)
    email = models.EmailField(blank=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="assignment_groups", blank=True)
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="managed_groups",
    )
    escalation_group = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="escalates_from",
        help_text="The next tier that SLA escalations reassign to.",
    )
    active = models.BooleanField(default=True)
    history = HistoricalRecords(m2m_fields=[members])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.escalation_group_id and self.escalation_group_id == self.pk:
            raise ValidationError({"escalation_group": "A group cannot escalate to itself."})


class Service(TimeStampedModel):
    """A business service ("Payroll", "VPN") that incidents, major incidents and problems point at."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    owner_group = models.ForeignKey(
        AssignmentGroup,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_services",
        help_text="Routes incidents that arrive without a group.",
    )
    criticality = models.CharField(max_length=10, choices=Criticality.choices, default=Criticality.MEDIUM)
    downtime_cost_per_hour = models.DecimalField(
        max_digits=12, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )
    customer_facing = models.BooleanField(default=False, help_text="Used directly by customers (trigger rules).")
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Category(TimeStampedModel):
    """Routing and trending category; one level of subcategory under a parent."""

    name = models.CharField(max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["parent__name", "name"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="category_unique_name_per_parent"),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(parent__isnull=True),
                name="category_unique_top_level_name",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent_id else self.name

    def clean(self) -> None:
        if self.parent_id:
            if self.parent_id == self.pk:
                raise ValidationError({"parent": "A category cannot be its own parent."})
            if self.parent.parent_id:
                raise ValidationError({"parent": "Only one level of subcategory is allowed."})
            if self.pk and self.children.exists():
                raise ValidationError({"parent": "A category with subcategories cannot itself have a parent."})


class PriorityMatrixQuerySet(models.QuerySet):
    def priority_for(self, impact: int, urgency: int) -> int:
        """The configured priority for an impact and urgency (ITIL default if a cell is missing)."""
        from itsm.choices import DEFAULT_PRIORITY_MATRIX

        value = self.filter(impact=impact, urgency=urgency).values_list("priority", flat=True).first()
        return value if value is not None else DEFAULT_PRIORITY_MATRIX[(impact, urgency)]


class PriorityMatrixEntry(models.Model):
    """One cell of the priority matrix: impact x urgency -> priority. Loaded with the ITIL default."""

    impact = models.PositiveSmallIntegerField(choices=Impact.choices)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)
    history = HistoricalRecords()

    objects = PriorityMatrixQuerySet.as_manager()

    class Meta:
        ordering = ["impact", "urgency"]
        verbose_name = "priority matrix entry"
        verbose_name_plural = "priority matrix"
        constraints = [models.UniqueConstraint(fields=["impact", "urgency"], name="priority_matrix_unique_cell")]

    def __str__(self) -> str:
        return f"Impact {self.impact} x Urgency {self.urgency} -> P{self.priority}"
