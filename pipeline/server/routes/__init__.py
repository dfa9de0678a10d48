"""The API's routes by subject: people and their faces, images, operations (and the page)."""
