"""The lab: optimisers compared side by side on 2-D landscapes and on real tasks."""
