"""Seed the routing table with the code defaults (MODEL_ROUTES + FALLBACK_ROUTES) and the price
table with the shipped price list (ai/data/prices.json). Both only when empty, so re-running on a
database someone already configured changes nothing. ``manage.py ai_load_prices`` reloads prices."""

from django.db import migrations


def seed(apps, schema_editor):
    from ai.routing import default_route_rows
    from ai.usage.price_data import apply_prices, read_price_file

    RouteTarget = apps.get_model("ai", "RouteTarget")
    ModelPrice = apps.get_model("ai", "ModelPrice")
    db = schema_editor.connection.alias
    if not RouteTarget.objects.using(db).exists():
        RouteTarget.objects.using(db).bulk_create(
            [RouteTarget(**row) for row in default_route_rows()]
        )
    if not ModelPrice.objects.using(db).exists():
        apply_prices(read_price_file(), ModelPrice)


def unseed(apps, schema_editor):
    apps.get_model("ai", "RouteTarget").objects.all().delete()
    apps.get_model("ai", "ModelPrice").objects.filter(source="shipped").delete()


class Migration(migrations.Migration):
    dependencies = [("ai", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
