"""The import of data.all's own cloud assembly into a release: stages, rules, assets."""
