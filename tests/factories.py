"""factory-boy factories shared by every test module."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from itsm.models import AssignmentGroup, BusinessCalendar, Category, Service, SlaPolicy, WorkingPeriod


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Person{n}")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                self.groups.add(Group.objects.get(name=role))
        if create:
            self.save()


class AssignmentGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssignmentGroup
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")
    email = factory.LazyAttribute(lambda o: f"{o.name.lower().replace(' ', '')}@example.com")

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.Sequence(lambda n: f"Service {n}")
    criticality = "medium"
    downtime_cost_per_hour = "1000.00"


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")


class BusinessCalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessCalendar
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Calendar {n}")
    timezone = "Europe/Berlin"

    @factory.post_generation
    def hours(self, create, extracted, **kwargs):
        """hours=[(weekday, start_minute, end_minute), ...]; default Mon-Fri 09:00-18:00."""
        if not create:
            return
        periods = extracted if extracted is not None else [(d, 540, 1080) for d in range(5)]
        WorkingPeriod.objects.bulk_create(
            WorkingPeriod(calendar=self, weekday=w, start_minute=s, end_minute=e) for w, s, e in periods
        )


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    kind = "resolution"
    priorities = [1, 2, 3, 4, 5]
    target_minutes = 240
    calendar = factory.LazyFunction(lambda: BusinessCalendar.objects.get(name="24x7"))
