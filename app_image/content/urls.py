"""Content URLs."""

from django.urls import path

from content import views

urlpatterns = [
    path("", views.FeedHomeView.as_view(), name="feed-home"),
    path("sections/<slug:section_slug>/", views.FeedSectionView.as_view(), name="feed-section"),
    path("articles/<slug:slug>/", views.ArticleDetailView.as_view(), name="article-detail"),
    path("api/articles/", views.ArticleCreateApi.as_view(), name="article-create"),
    path("api/articles/<slug:slug>/", views.ArticleUpdateApi.as_view(), name="article-update"),
]
